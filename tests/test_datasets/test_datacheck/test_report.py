"""Problems grouped by kind, one line each, the rest in a file."""
from fasternet_dense.datasets.datacheck.report import ProblemLog, format_size, summary_lines


def test_one_line_per_kind_with_the_first_occurrence_and_the_count():
    log = ProblemLog('train2017')
    assert not log
    log.add('missing image', 'a.jpg')
    log.add('missing image', 'b.jpg')
    log.add('box outside the image', 'annotation 7', '[0, 0, 90, 10] in 64x48')
    assert log and log.total() == 3 and log.count('missing image') == 2
    assert log.lines() == ['train2017: missing image: a.jpg ... and 1 more',
                           'train2017: box outside the image: annotation 7 ([0, 0, 90, 10] '
                           'in 64x48)']
    assert format_size((48, 64)) == '64x48'


def test_the_whole_list_goes_to_the_work_dir_when_lines_leave_some_out(tmp_path):
    log = ProblemLog('train2017')
    for name in ('a.jpg', 'b.jpg', 'c.jpg'):
        log.add('missing image', name)
    lines = summary_lines(log, str(tmp_path), 'train_dataloader', 'data/coco/train2017/')
    listing = tmp_path / 'data_check' / 'train_dataloader_train2017_problems.txt'
    assert lines[-1] == f'train_dataloader: all 3 problems are listed in {listing}'
    assert listing.read_text().splitlines() == ['missing image: a.jpg', 'missing image: b.jpg',
                                                'missing image: c.jpg']
    single = ProblemLog('val2017')
    single.add('missing image', 'x.jpg')
    assert summary_lines(single, str(tmp_path), 'val_dataloader', 'val2017') == [
        'val2017: missing image: x.jpg']
