"""Shared test settings and helpers.

Every test runs in a temporary working directory of its own, so none can
depend on where pytest was started; paths into the repository go through
``ROOT``. Helpers here are imported by the test modules
(``from conftest import ...``); no test module imports another.
"""
import logging
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
OUT_NORM = re.compile(r'^norm(\d)\.')


def plain_config(node):
    """A config (``Config.to_dict()``) as plain data for comparing with
    another: ``_scope_`` keys (added by ``mmdet::`` bases) dropped, tuples
    and lists kept apart."""
    if isinstance(node, dict):
        return {k: plain_config(v) for k, v in node.items() if k != '_scope_'}
    if isinstance(node, (list, tuple)):
        return type(node)(plain_config(v) for v in node)
    return node


def config_path(name: str) -> str:
    """The absolute path of ``configs/NAME``."""
    return osp.join(CONFIGS, name)


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path_factory, monkeypatch):
    """Run each test from an empty directory outside the repository."""
    monkeypatch.chdir(tmp_path_factory.mktemp('cwd'))


def loader_options(data_root, **extra) -> dict:
    """``--cfg-options`` that point every dataloader at ``data_root`` and
    load in the main process (no worker processes to start or keep)."""
    options = {}
    for loader in LOADERS:
        options[f'{loader}.dataset.data_root'] = str(data_root)
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    options.update(extra)
    return options


def toy_coco_options(root, **extra) -> dict:
    """``--cfg-options`` that point a toy COCO config, its evaluators
    included, at ``root``."""
    root = str(root).rstrip('/') + '/'
    ann_file = root + 'annotations/instances_val2017.json'
    evaluators = {'val_evaluator.ann_file': ann_file, 'test_evaluator.ann_file': ann_file}
    return loader_options(root, **dict(evaluators, **extra))


def tiny_runner(work_dir, model, data, max_iters: int, lr: float, interval: int, hooks=(),
                shuffle: bool = False, loader: dict = None, train_cfg: dict = None, **extra):
    """A ``CrashSafeRunner`` training ``model`` on the list ``data`` for
    ``max_iters`` iterations of 2 samples with momentum SGD at ``lr``, a
    checkpoint every ``interval`` iterations, the custom ``hooks``, and a log
    of its own (``loader``: more dataloader settings; ``train_cfg``: another
    loop; ``extra``: more ``Runner`` arguments)."""
    import uuid
    from fasternet_dense import CrashSafeRunner
    return CrashSafeRunner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=shuffle),
                              batch_size=2, collate_fn=dict(type='default_collate'),
                              **(loader or {})),
        train_cfg=train_cfg or dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=interval,
                                           by_epoch=False)),
        custom_hooks=list(hooks), default_scope='mmengine',
        experiment_name=f'tiny_{uuid.uuid4().hex}', **extra)


def as_argv(options: dict) -> list:
    return ['--cfg-options', *(f'{k}={v}' for k, v in options.items())]


def run_tool(tool: str, *args, timeout: int = 600, env: dict = None):
    """``python tools/TOOL ARGS`` from the repository root, output captured."""
    return subprocess.run([sys.executable, f'tools/{tool}', *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


def run_distributed(script: str, *args, port: int):
    """``bash tools/SCRIPT ARGS`` with two CPU processes' worth of settings:
    this interpreter, a port of its own, one OpenMP thread per process (two
    processes with two threads each on two cores slow down several-fold)."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port), OMP_NUM_THREADS='1')
    return subprocess.run(['bash', f'tools/{script}', *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=env)


def error_line(proc) -> str:
    """The one stderr line of a tool that stopped on bad input (exit code 2)."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = proc.stderr.strip()
    assert '\n' not in line, line
    return line


def assert_names_the_s_imagenet_download(line: str) -> None:
    """The missing-checkpoint message: where the file should be, where to get
    it, and how to train without it."""
    assert 'checkpoints/fasternet_s-epoch.299-val_acc1.81.2840.pth' in line
    assert 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/' in line
    assert 'model.backbone.init_cfg=None' in line


def native_to_official(state_dict, with_out_norms=False):
    """The official release's flat layout: stage i -> stages.2i, merger before
    stage i -> stages.2i-1, output norm i -> norm2i; plus its classifier."""
    out = {}
    for key, value in state_dict.items():
        match = re.match(r'stages\.(\d)\.downsample\.(.*)', key)
        if match:
            key = f'stages.{2 * int(match.group(1)) - 1}.{match.group(2)}'
        else:
            match = re.match(r'stages\.(\d)\.(blocks\..*)', key)
            if match:
                key = f'stages.{2 * int(match.group(1))}.{match.group(2)}'
        match = OUT_NORM.match(key)
        if match:
            if not with_out_norms:
                continue
            key = f'norm{2 * int(match.group(1))}.' + key[len(match.group(0)):]
        out[key] = value
    return out


def fake_checkpoint(path, value=0.0, size=1000):
    """A small checkpoint written whole, as a run's ``iter_N.pth`` is."""
    import torch
    from fasternet_dense.utils.fileio import AtomicWriter
    state = {'w': torch.full((size, ), value)}
    with AtomicWriter(str(path)) as f:
        torch.save({'meta': {'iter': int(value)}, 'state_dict': state}, f)


def write_image(path, seed=0, size=(24, 32)):
    """A random RGB image file (the format from the suffix); returns its path."""
    import numpy as np
    from PIL import Image
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return str(path)


def damage(path, how):
    """Truncate an image file to half (``how='truncate'``) or overwrite it
    with bytes that are no image."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if how == 'truncate' else b'not an image at all' * 20)


def mount_tmpfs(folder, options: str):
    """Mount a tmpfs with ``options`` (``'size=1600k'``, ``'ro,size=64k'``)
    on ``folder`` for a test, or skip it with the reason where mounting is
    refused (it needs root, as CI here has); yields the folder and unmounts
    it afterwards."""
    folder.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f'cannot mount a tmpfs here: {mounted.stderr.strip()}')
    try:
        yield folder
    finally:
        # A log file the test's runner still holds open keeps the mount
        # busy; it is then detached at once and freed when the file closes.
        if subprocess.run(['umount', str(folder)], capture_output=True).returncode:
            subprocess.run(['umount', '--lazy', str(folder)], check=True)


def brief_training(config: str, options: dict, work_dir, metric: str, window: int):
    """Train ``config`` with ``options`` from initialised weights, validating
    before and after: ``(metric untrained, metric trained, mean of the first
    ``window`` losses, mean of the last ``window``)``."""
    from fasternet_dense.apis.config import build_runner, load_config
    runner = build_runner(load_config(config, options, str(work_dir)))
    runner.model.init_weights()
    untrained = runner.val()[metric]
    runner.train()
    trained = runner.val()[metric]
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    return untrained, trained, losses[:window].mean(), losses[-window:].mean()


class Messages(logging.Handler):
    """The messages a logger writes, as text (``lines``)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def linear_regressor():
    """An mmengine model: one seeded linear layer from 4 inputs, trained on
    ``inputs`` / ``labels`` batches with a squared loss."""
    import torch
    from mmengine.model import BaseModel

    class Net(BaseModel):

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, inputs, labels=None, mode='loss'):
            out = self.linear(inputs).squeeze(1)
            return dict(loss=(out - labels.float()).square().mean())

    return Net()
