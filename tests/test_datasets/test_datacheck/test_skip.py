"""``data_check.skip_bad``: the good samples go to a list the dataset reads."""
from fasternet_dense.datasets.datacheck.report import ProblemLog
from fasternet_dense.datasets.datacheck.seg import SegCheck
from fasternet_dense.datasets.datacheck.skip import skip_seg_samples


def test_the_good_samples_are_listed_and_every_dataset_reading_them_is_pointed_at_it(tmp_path):
    result = SegCheck(ProblemLog('training'), ['a', 'b', 'c'])
    result.bad = {'b'}
    train, shared = dict(type='ADE20KDataset'), dict(type='ADE20KDataset')
    errors = skip_seg_samples('train_dataloader', [train, shared], result, '/data/img',
                              'images/training', ['training: bad label: b'], str(tmp_path))
    listing = tmp_path / 'data_check' / 'train_dataloader_training.txt'
    assert errors == [] and listing.read_text() == 'a\nc\n'
    assert train['ann_file'] == shared['ann_file'] == str(listing)


def test_nothing_changes_when_no_sample_is_left(tmp_path):
    result = SegCheck(ProblemLog('training'), ['a'])
    result.bad = {'a'}
    dataset = dict(type='ADE20KDataset')
    errors = skip_seg_samples('train_dataloader', [dataset], result, '/data/img', 'training',
                              ['training: bad label: a'], str(tmp_path))
    assert errors[0] == ('train_dataloader: no usable samples left in /data/img after dropping '
                         'bad samples') and 'ann_file' not in dataset
