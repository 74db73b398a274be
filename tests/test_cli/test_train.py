"""``tools/train.py``'s command line: what it makes of its flags before
anything is built."""
import pytest

from conftest import config_path
from fasternet_dense.cli.train import train_main, train_parser

TOY_SEG = config_path('semfpn_fasternet_t0_toyade.py')


def test_resume_without_a_value_means_the_work_dirs_newest_checkpoint():
    assert train_parser().parse_args([TOY_SEG, '--resume']).resume == 'auto'
    assert train_parser().parse_args([TOY_SEG, '--resume', 'x.pth']).resume == 'x.pth'
    assert train_parser().parse_args([TOY_SEG]).resume is None


def test_amp_on_a_machine_without_cuda_is_one_line(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    assert train_main([TOY_SEG, '--amp', '--work-dir', str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --amp needs a CUDA GPU; run without --amp on CPU.')
    assert not any(tmp_path.iterdir())  # nothing written


def test_an_unknown_config_name_is_one_line(capsys):
    assert train_main(['no_such_config']) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith('error: Config file no_such_config not found;')
