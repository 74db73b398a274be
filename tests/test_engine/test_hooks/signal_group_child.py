"""A small training with data workers that signals its own process group,
as a scheduler signals every process of a job: ``python
tests/test_engine/test_hooks/signal_group_child.py WORK_DIR --at N [--signal SIGINT] [--by-epoch]
[--persistent]``; under ``torchrun`` with ``--launcher pytorch`` (two gloo
ranks; rank 0 signals the group). Exits as ``tools/train.py`` does."""
import argparse
import os
import signal
import subprocess
import sys
import time

import torch
from mmengine.hooks import Hook

# The tests' folder, for their shared helpers.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from conftest import linear_regressor, tiny_runner  # noqa: E402

from fasternet_dense import PreemptionHook, StepSeedHook  # noqa: E402
from fasternet_dense.utils.errors import run_tool  # noqa: E402


class SlowSamples(torch.utils.data.Dataset):
    """16 samples that take a moment each to load, so the workers are busy
    when the signal comes."""

    def __len__(self):
        return 16

    def __getitem__(self, index):
        time.sleep(0.02)
        gen = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(4, generator=gen), labels=torch.tensor(float(index % 3)))


class SignalGroupAt(Hook):
    """Signals this process's group (workers, other ranks, the launcher)
    while iteration ``at`` (from 1) runs, from another process as a
    scheduler would (torch's workers take a SIGTERM from their parent as
    their shutdown)."""
    priority = 'HIGHEST'

    def __init__(self, at: int, signum: int):
        self.at, self.signum = at, signum

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at and runner.rank == 0:
            subprocess.run(['kill', '-s', signal.Signals(self.signum).name[3:], '--',
                            f'-{os.getpgrp()}'])


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('work_dir')
    parser.add_argument('--at', type=int, default=0, help='0: no signal')
    parser.add_argument('--signal', default='SIGTERM')
    parser.add_argument('--by-epoch', action='store_true')
    parser.add_argument('--persistent', action='store_true')
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--launcher', default='none')
    args = parser.parse_args(argv)
    extra = {}
    if args.launcher != 'none':
        torch.distributed.init_process_group('gloo')
        extra = dict(launcher=args.launcher, cfg=dict(model_wrapper_cfg=dict(
            type='MMDistributedDataParallel', device_ids=None)))
    hooks = [dict(type=StepSeedHook), dict(type=PreemptionHook)]
    if args.at:
        hooks.append(SignalGroupAt(args.at, getattr(signal, args.signal)))
    runner = tiny_runner(
        args.work_dir, linear_regressor(), SlowSamples(), max_iters=24, lr=0.05, interval=4, hooks=hooks,
        shuffle=True, loader=dict(num_workers=2, persistent_workers=args.persistent),
        train_cfg=dict(by_epoch=True, max_epochs=3) if args.by_epoch else None,
        randomness=dict(seed=0), resume=args.resume, **extra)
    runner.train()


if __name__ == '__main__':
    sys.exit(run_tool(main))
