"""Which checkpoint a resume takes: the recorded one if complete, else the
newest complete one in the work dir, never one outside it; one line when
none is complete."""
import os
import shutil

import pytest
from conftest import config_path, fake_checkpoint

from fasternet_dense import MissingFileError, cli
from fasternet_dense.datasets.toydata import make_toy_ade
from fasternet_dense.engine.runner.checkpoints import checkpoint_problem, find_resumable_checkpoint

SEG_CONFIG = config_path('semfpn_fasternet_t0_toyade.py')


# ---------------------------------------------------- choosing a checkpoint
def test_checkpoint_problem_finds_truncation_and_corruption(tmp_path):
    path = tmp_path / 'iter_2.pth'
    fake_checkpoint(path, 3.0, size=20000)
    assert checkpoint_problem(str(path)) is None
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert checkpoint_problem(str(path)).startswith('truncated or corrupt')
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert checkpoint_problem(str(path)).startswith('corrupt (checksum mismatch')
    path.write_bytes(b'')
    assert checkpoint_problem(str(path)) == 'empty (0 bytes)'
    assert checkpoint_problem(str(tmp_path / 'nope.pth')) == 'missing'


def test_resume_skips_a_truncated_newest_checkpoint(tmp_path):
    work = tmp_path
    for step in (2, 4, 6):
        fake_checkpoint(work / f'iter_{step}.pth', step)
    (work / 'last_checkpoint').write_text(str(work / 'iter_6.pth'))
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_6.pth')
    data = (work / 'iter_6.pth').read_bytes()
    (work / 'iter_6.pth').write_bytes(data[:100])
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_4.pth')
    (work / 'iter_4.pth').write_bytes(b'')
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_2.pth')


def test_resume_warns_naming_the_bad_checkpoint(tmp_path):
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('resume_warning_test', log_file=str(tmp_path / 'log.txt'))
    fake_checkpoint(tmp_path / 'epoch_1.pth', 1)
    fake_checkpoint(tmp_path / 'epoch_2.pth', 2)
    data = (tmp_path / 'epoch_2.pth').read_bytes()
    (tmp_path / 'epoch_2.pth').write_bytes(data[:len(data) - 10])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / 'log.txt').read_text()
    assert (f'Checkpoint {tmp_path / "epoch_2.pth"} is truncated or corrupt' in text
            and f'resuming from the newest complete one, {tmp_path / "epoch_1.pth"}' in text)


def test_resume_without_a_complete_checkpoint_fails_with_one_line(tmp_path):
    fake_checkpoint(tmp_path / 'iter_2.pth', 2)
    (tmp_path / 'iter_2.pth').write_bytes(b'PK\x03\x04' + b'\0' * 50)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    with pytest.raises(MissingFileError, match=r'^Cannot resume the run in .*: no complete '
                       r'checkpoint \(.*iter_2.pth is truncated or corrupt'):
        find_resumable_checkpoint(str(tmp_path))


def test_resume_with_nothing_saved_starts_afresh(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_record_with_a_relative_path_from_elsewhere(tmp_path):
    fake_checkpoint(tmp_path / 'iter_4.pth', 4)
    (tmp_path / 'last_checkpoint').write_text('some/other/cwd/iter_4.pth')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')


def _copied_work_dir(tmp_path):
    """``cp -a W W2`` of a run with iter_2.pth and iter_4.pth, W's
    ``last_checkpoint`` naming W/iter_4.pth; returns ``(W, W2)``."""
    original, copy = tmp_path / 'W', tmp_path / 'W2'
    original.mkdir()
    for step in (2, 4):
        fake_checkpoint(original / f'iter_{step}.pth', step)
    (original / 'last_checkpoint').write_text(str(original / 'iter_4.pth'))
    shutil.copytree(original, copy)
    return original, copy


def test_a_copied_work_dir_resumes_from_its_own_files(tmp_path):
    """``cp -a W W2``: W2's record names W's files. The resume reads W2's
    file of that name; without one it warns and takes W2's newest, never
    W's."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('copied_work_dir_test', log_file=str(tmp_path / 'log.txt'))
    original, copy = _copied_work_dir(tmp_path)
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_4.pth')
    os.remove(copy / 'iter_4.pth')
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_2.pth')
    os.remove(copy / 'iter_2.pth')
    assert find_resumable_checkpoint(str(copy)) is None  # afresh, not W's iter_4
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / 'log.txt').read_text()
    assert (f'{copy / "last_checkpoint"} names {original / "iter_4.pth"}, outside this work '
            'dir, and this work dir has no complete file of that name; not followed') in text


def test_the_resume_check_of_a_copied_work_dir_settles_on_its_own_file(tmp_path):
    """The user's steps: ``cp -a W W2; rm W2/iter_4.pth; tools/train.py ...
    --work-dir W2 --resume`` settles on W2's iter_2.pth."""
    _, copy = _copied_work_dir(tmp_path)
    os.remove(copy / 'iter_4.pth')
    from mmengine.config import Config
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(copy)))
    from fasternet_dense.apis.checks import check_resume
    check_resume(cfg)
    assert cfg.load_from == str(copy / 'iter_2.pth')


def test_cli_resume_errors_are_one_line(tmp_path, capsys):
    root = str(tmp_path / 'ade')
    make_toy_ade(root, num_train=4, num_val=2, image_size=64, seed=0)
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'iter_2.pth').write_bytes(b'PK\x03\x04 cut')
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    options = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
               f'val_dataloader.dataset.data_root={root}']
    assert cli.train_main([SEG_CONFIG, '--work-dir', str(work), '--resume', *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f'error: Cannot resume the run in {work}: no complete checkpoint')
    assert cli.train_main([SEG_CONFIG, '--work-dir', str(work), '--resume',
                           str(work / 'iter_2.pth'), *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f'error: Cannot resume from {work / "iter_2.pth"}: the checkpoint '
                          'is truncated or corrupt')
