"""Detection end to end on the toy COCO set: learning, the test tool with an
official mmdet 2.x checkpoint, and distributed training on CPU."""
import logging
import os

import pytest
import torch
from conftest import (as_argv, brief_training, config_path, native_to_official, run_distributed,
                      run_tool, toy_coco_options)

from fasternet_dense.apis.config import build_runner, load_config
from fasternet_dense.cli.test import prepare_test_config
from fasternet_dense.cli.test import test_parser as tool_parser
from fasternet_dense.datasets.toydata import make_toy_coco

CONFIG = config_path('maskrcnn_fasternet_t0_toycoco.py')

pytestmark = pytest.mark.slow


class Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope='module')
def toy_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(str(root), num_train=96, num_val=24)
    return root


def test_brief_training_lowers_loss_and_beats_untrained_map(toy_coco, tmp_path):
    options = toy_coco_options(toy_coco, **{
        'train_cfg.max_epochs': 12, 'train_cfg.val_interval': 12,
        'param_scheduler.1.milestones': [10], 'param_scheduler.1.end': 12,
        'default_hooks.checkpoint.interval': 12, 'randomness.seed': 0})
    untrained, trained, first, last = brief_training(CONFIG, options, tmp_path,
                                                     'coco/bbox_mAP', window=5)
    assert last < 0.6 * first, (first, last)
    assert trained > untrained + 0.05, (untrained, trained)


def test_test_tool_takes_an_official_mmdet2_checkpoint(toy_coco, tmp_path):
    """A whole-detector checkpoint in the official mmdet 2.x key layout
    (flat backbone stages, norm0/2/4/6) loads with nothing missing or left
    over, and its backbone weights arrive unchanged."""
    options = toy_coco_options(toy_coco)
    cfg = load_config(CONFIG, options, str(tmp_path))
    source = build_runner(cfg).model
    torch.manual_seed(3)
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    native = source.state_dict()
    backbone = {k[len('backbone.'):]: v for k, v in native.items() if k.startswith('backbone.')}
    state = {f'backbone.{k}': v for k, v in native_to_official(backbone, True).items()}
    state.update({k: v for k, v in native.items() if not k.startswith('backbone.')})
    assert 'backbone.stages.5.reduction.weight' in state and 'backbone.norm6.weight' in state
    path = tmp_path / 'mask_rcnn_fasternet_t0_fpn_1x_coco.pth'
    torch.save({'state_dict': state, 'meta': {'CLASSES': ('circle', 'square', 'triangle'),
                                              'mmdet_version': '2.25.0', 'epoch': 12}}, path)

    args = tool_parser().parse_args(
        [CONFIG, str(path), '--work-dir', str(tmp_path / 'test'), *as_argv(options)])
    runner = build_runner(prepare_test_config(args))
    records = Records()
    runner.logger.addHandler(records)
    try:
        metrics = runner.test()
    finally:
        runner.logger.removeHandler(records)
    text = '\n'.join(records.messages)
    assert 'missing keys' not in text and 'unexpected key' not in text, text
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics
    loaded = runner.model.state_dict()
    for key, value in native.items():
        assert torch.equal(loaded[key], value), key


def test_test_tool_prints_coco_metrics(toy_coco, tmp_path):
    options = toy_coco_options(toy_coco)
    cfg = load_config(CONFIG, options, str(tmp_path))
    runner = build_runner(cfg)
    runner.model.init_weights()
    path = tmp_path / 'random.pth'
    torch.save({'state_dict': runner.model.state_dict(), 'meta': {}}, path)
    out = tmp_path / 'results.pkl'
    proc = run_tool('test.py', CONFIG, str(path), '--work-dir', str(tmp_path / 'w'),
                    '--out', str(out), '--show-dir', str(tmp_path / 'show'), *as_argv(options))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert key in proc.stdout
    assert out.is_file() and out.stat().st_size > 0
    shown = [f for _, _, files in os.walk(tmp_path / 'show') for f in files if f.endswith('.jpg')
             or f.endswith('.png')]
    assert len(shown) == 24


def test_distributed_training_on_cpu_with_two_processes(toy_coco, tmp_path):
    work_dir = tmp_path / 'dist'
    options = toy_coco_options(toy_coco, **{
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 2, 'val_dataloader.batch_size': 2,
        'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1})
    proc = run_distributed('dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir),
                           *as_argv(options), port=29517)
    # torchrun exits 0 only when every worker did.
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work_dir / 'epoch_1.pth').is_file()
    logs = [p for p in work_dir.rglob('*.log')]
    text = '\n'.join(p.read_text() for p in logs)
    assert 'Distributed training: True' in text
    # 96 images at 2 per process: 24 iterations per epoch means the data was
    # split between two ranks (one process alone would need 48).
    assert 'Epoch(train) [1][24/24]' in text
    assert 'coco/bbox_mAP' in text
