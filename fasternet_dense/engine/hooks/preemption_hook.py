"""Stop cleanly when a scheduler pre-empts the job: on SIGTERM (or SIGINT)
finish the current iteration, write a complete checkpoint and exit with a
line that says how to continue.

Switched on in a config (``custom_hooks = [dict(type='PreemptionHook')]``;
the project's configs do). SLURM and most schedulers send SIGTERM and, after
a grace period, SIGKILL; the iteration in flight is finished and saved
(through the runner, so a ``CrashSafeRunner`` writes it whole or not at all)
as ``iter_N.pth``, ``last_checkpoint`` names it, and ``--resume`` continues
from it. In iteration-based runs with ``StepSeedHook`` the resumed run ends
with the weights an uninterrupted one would have. In epoch-based runs
mmengine restarts the interrupted epoch from its first batch, so the batches
of that epoch before the signal are seen twice. In distributed runs every
rank learns of the signal at the same iteration (a one-element all-reduce
after each iteration), so all stop there. A second SIGINT stops at once,
unless it comes within a second of the first: launchers (``torchrun``,
``timeout``) pass the terminal's Ctrl-C on to the processes that already had
it from the terminal.
"""
import os.path as osp
import signal
import time
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import is_distributed, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS

from ...utils.errors import TrainingStopped
from ...utils.fileio import atomic_write_text
from ..runner.checkpoints import LAST_CHECKPOINT


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Save and stop after the iteration during which a signal came.

    Args:
        signals: names of the signals to catch (default SIGTERM and SIGINT).
    """

    # After CheckpointHook (VERY_LOW), so an interval checkpoint of the same
    # iteration is not written twice.
    priority = 'LOWEST'

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGINT')):
        self.signals = [getattr(signal, name) for name in signals]
        self.received: Optional[int] = None
        self._received_at = 0.0
        self._previous: Dict[int, object] = {}

    # A repeat of the signal within this many seconds is the same request
    # passed on by a launcher, not a second Ctrl-C.
    REPEAT_WINDOW_S = 1.0

    def _on_signal(self, signum, frame) -> None:
        now = time.monotonic()
        if self.received is None:
            self.received, self._received_at = signum, now
        elif signum == signal.SIGINT and now - self._received_at > self.REPEAT_WINDOW_S:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now

    def before_train(self, runner) -> None:
        import threading
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning('PreemptionHook: not on the main thread; signals are not '
                                  'caught.')
            return
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def _requested(self) -> Optional[int]:
        """The signal any rank received during this iteration, or None."""
        if not is_distributed():
            return self.received
        import torch.distributed as dist
        flag = torch.tensor([self.received or 0], dtype=torch.int64,
                            device='cuda' if dist.get_backend() == 'nccl' else 'cpu')
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item()) or None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        signum = self._requested()
        if signum is None:
            return
        step = runner.iter + 1
        path = self._save(runner, step)
        self.after_train(runner)  # the handlers go back; the loop ends here
        name = signal.Signals(signum).name
        raise TrainingStopped(
            f'Stopped by {name} after iteration {step}: checkpoint {path} is written whole; '
            'continue with tools/train.py CONFIG --resume (the same work dir).',
            exit_code=128 + signum)

    def _save(self, runner, step: int) -> str:
        """Write ``iter_<step>.pth`` (unless the checkpoint hook just did)
        and point ``last_checkpoint`` at it; returns its path."""
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        if hook is not None and not hook.by_epoch:
            if getattr(hook, 'last_ckpt', None) != hook.file_backend.join_path(
                    hook.out_dir, hook.filename_tmpl.format(step)):
                hook._save_checkpoint(runner)  # its name, its record, its kept files
            return hook.last_ckpt
        filename = f'iter_{step}.pth'
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False,
                               meta=dict(epoch=runner.epoch, iter=step))
        path = osp.join(runner.work_dir, filename)
        if is_main_process():
            atomic_write_text(path, osp.join(runner.work_dir, LAST_CHECKPOINT))
        return path

    def after_train(self, runner) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


__all__ = ['PreemptionHook']
