"""Helpers for the tests that run the command-line tools on toy data."""
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


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
