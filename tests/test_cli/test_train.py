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


def test_auto_scale_lr_scales_by_the_real_batch(tmp_path):
    """mmdet's ``--auto-scale-lr``: batch 2 against the config's base batch
    8 scales the learning rate by 0.25 (mmengine's Runner says so)."""
    from conftest import as_argv, run_tool, toy_coco_options

    from fasternet_dense.datasets.toydata import make_toy_coco
    make_toy_coco(str(tmp_path / 'coco'), num_train=2, num_val=1, image_size=64)
    options = toy_coco_options(tmp_path / 'coco', **{
        'train_dataloader.batch_size': 2, 'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 2, 'default_hooks.checkpoint.interval': 1})
    proc = run_tool('train.py', config_path('maskrcnn_fasternet_t0_toycoco.py'),
                    '--auto-scale-lr', '--work-dir', str(tmp_path / 'w'), *as_argv(options))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ('LR is set based on batch size of 8 and the current batch size is 2. Scaling the '
            'original LR by 0.25.') in proc.stdout + proc.stderr


def test_auto_scale_lr_without_a_base_batch_is_one_line(tmp_path, capsys):
    config = tmp_path / 'no_base_batch.py'
    config.write_text('from mmengine.config import read_base\n\nwith read_base():\n'
                      '    from fasternet_dense.configs.semfpn_fasternet_t0_toyade import *\n\n'
                      'auto_scale_lr = None\n')
    assert train_main([str(config), '--auto-scale-lr', '--work-dir', str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --auto-scale-lr needs auto_scale_lr = dict(enable=False, base_batch_size=N) in '
        'the config: N is the total batch its learning rate was set for.')
