"""``CrashSafeRunner``: mmengine's runner with checkpoints written whole or
not at all, and data workers that leave the job's signals to it.

Switched on in a config, by name in a text config
(``runner_type = 'CrashSafeRunner'``) or by class in a Python-style one, as
the project's configs do (``runner_type = CrashSafeRunner``).

* Each checkpoint is saved to a temporary file in the same folder, which is
  flushed, fsynced and then renamed over the final name. A kill leaves
  either the old file or the complete new one, never a truncated one (at
  most a hidden ``.NAME.PID.tmp`` file, removed on the next resume). A
  checkpoint that cannot be written stops the run with one line
  (:func:`write_failure_message`).
* Automatic resume takes the checkpoint
  :func:`~fasternet_dense.engine.runner.checkpoints.find_resumable_checkpoint`
  picks.
* Data workers ignore SIGINT and any SIGTERM but their parent's
  (:class:`SignalsToMainProcess`).
* Checkpoints hold only types torch's default ``weights_only`` loader reads
  (:func:`~fasternet_dense.utils.checkpoint.to_plain`), so that mmdet's and
  mmseg's inferencers and a plain ``torch.load`` open them without this
  package; resuming restores the log buffers and numpy data exactly.
"""
import logging
import os
import os.path as osp
import shutil
import signal
from typing import Optional

import torch
from torch.utils._pytree import tree_leaves
from mmengine.dist import is_main_process
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ...utils.checkpoint import from_plain, non_plain_entries, to_plain
from ...utils.errors import CheckpointWriteError
from ...utils.fileio import is_local, publish, remove_stale_temp_files, temp_path
from .checkpoints import find_resumable_checkpoint, intact_last_checkpoint

# ------------------------------------------------------------------ runner


@RUNNERS.register_module()
class CrashSafeRunner(Runner):
    """mmengine's ``Runner`` with crash-safe checkpoints; switched on by
    ``runner_type = 'CrashSafeRunner'`` in a config.

    * Each checkpoint is written to a hidden ``.NAME.PID.tmp`` file beside
      its final name, fsynced and renamed over it: a kill leaves the old
      file or the complete new one, never a truncated one.
    * Automatic resume (``resume=True`` without ``load_from``) takes the
      checkpoint :func:`find_resumable_checkpoint` picks: the one named in
      ``last_checkpoint`` if it is complete, else the newest complete one.
      mmengine's ``CheckpointHook`` writes that record in place, so a kill
      in that moment can tear it; the choice then falls back in the same
      way.
    * Checkpoints are plain data: mmengine's log buffers and numpy values
      are written as tagged Python lists and numbers after every hook's
      ``before_save_checkpoint``, and turned back before any hook's
      ``after_load_checkpoint``, so hooks and resuming see what mmengine's
      runner gives them. mmdet's ``DetInferencer``, mmseg's
      ``MMSegInferencer`` and ``torch.load(path)`` read the files in a
      process that has not imported this package (torch >= 2.6 loads with
      ``weights_only=True`` and refuses mmengine's ``HistoryBuffer``).
    """

    _non_plain_warned = frozenset()  # checkpoint entries warned about

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """mmengine's hook calls, with a checkpoint made plain after the hooks
        that see it before saving and restored before those that see it
        after loading."""
        checkpoint = kwargs.get('checkpoint')
        if fn_name == 'after_load_checkpoint' and isinstance(checkpoint, dict):
            for key, value in checkpoint.items():
                checkpoint[key] = from_plain(value)
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'before_save_checkpoint' and isinstance(checkpoint, dict):
            for key, value in checkpoint.items():
                checkpoint[key] = to_plain(value)
            self._warn_non_plain(checkpoint)

    def _warn_non_plain(self, checkpoint: dict) -> None:
        """One warning per entry that stays unreadable for
        ``torch.load(weights_only=True)`` (an object a hook or dataset put
        there that :func:`to_plain` does not convert)."""
        for path, kind in non_plain_entries(checkpoint):
            if path not in self._non_plain_warned:
                self._non_plain_warned = self._non_plain_warned | {path}
                self.logger.warning(
                    f'Checkpoint entry {path} is a {kind}, which torch.load(weights_only=True) '
                    'refuses, so the checkpoint will not load; store plain numbers, strings, '
                    'lists, dicts or tensors there instead.')

    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args: Optional[dict] = None, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, meta: Optional[dict] = None,
                        by_epoch: bool = True, backend_args: Optional[dict] = None) -> None:
        final = osp.join(out_dir, filename)
        atomic = file_client_args is None and is_local(final, backend_args)
        written = temp_path(final) if atomic else final
        try:
            super().save_checkpoint(osp.dirname(written), osp.basename(written),
                                    file_client_args, save_optimizer, save_param_scheduler,
                                    meta, by_epoch, backend_args)
        except BaseException as err:
            free_at_failure = _free_bytes(out_dir)
            if atomic and osp.exists(written):
                os.remove(written)
            if _is_write_failure(err):
                raise CheckpointWriteError(write_failure_message(
                    final, err, self.work_dir, _state_bytes(self), free_at_failure)) from err
            raise
        if atomic and osp.exists(written):  # only the main process writes
            publish(written, final)

    def _log_env(self, env_cfg: dict) -> None:
        """mmengine's report of the environment and the whole config (several
        hundred lines) goes to the log file alone; the console gets one line
        naming the file. A run that stops before training then ends with its
        error, not under the config."""
        file_handlers = [h for h in self.logger.handlers if isinstance(h, logging.FileHandler)]
        others = [h for h in self.logger.handlers if h not in file_handlers]
        for handler in others:
            self.logger.removeHandler(handler)
        try:
            super()._log_env(env_cfg)
        finally:
            for handler in others:
                self.logger.addHandler(handler)
        if file_handlers:
            self.logger.info('Environment and config: written to '
                             f'{file_handlers[0].baseFilename}')

    @staticmethod
    def build_dataloader(dataloader, seed: Optional[int] = None,
                         diff_rank_seed: bool = False):
        """mmengine's dataloader, whose worker processes leave SIGTERM and
        SIGINT to the main process (:class:`SignalsToMainProcess`)."""
        loader = Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        init_fn = getattr(loader, 'worker_init_fn', None)
        if getattr(loader, 'num_workers', 0) > 0 and not isinstance(init_fn,
                                                                    SignalsToMainProcess):
            loader.worker_init_fn = SignalsToMainProcess(init_fn)
        return loader

    def load_or_resume(self) -> None:
        if self._resume and self._load_from is None and not self._has_loaded:
            if is_main_process():
                remove_stale_temp_files(self.work_dir)
            found = find_resumable_checkpoint(self.work_dir)
            if found is None:
                self._resume = False
            self._load_from = found
        super().load_or_resume()


class SignalsToMainProcess:
    """A dataloader ``worker_init_fn``: the worker ignores SIGINT, and
    SIGTERM from any process but its parent; then ``init_fn`` runs.

    Schedulers (SLURM's pre-emption and ``scancel``, ``timeout``) and a
    terminal's Ctrl-C signal every process of a job, not only the main one.
    torch's workers die of such a SIGTERM and leave their loop on SIGINT,
    and the main process then fails with "DataLoader worker ... is killed by
    signal" in the middle of an iteration. Here the workers keep serving
    batches until the main process has finished its iteration and shuts
    them down. A SIGTERM from the parent (its shutdown of the workers) still
    ends the worker at once, as torch's own handler does; a thread of the
    worker receives SIGTERM with ``sigwaitinfo`` to learn who sent it.
    """

    def __init__(self, init_fn=None):
        self.init_fn = init_fn

    def __call__(self, worker_id: int) -> None:
        import threading
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Blocked in this thread before the waiting thread starts, so every
        # later thread of the worker inherits the block.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        threading.Thread(target=_end_on_parents_sigterm, args=(os.getppid(), ),
                         name='sigterm-from-parent', daemon=True).start()
        if self.init_fn is not None:
            self.init_fn(worker_id)


def _end_on_parents_sigterm(parent: int) -> None:
    while True:
        info = signal.sigwaitinfo({signal.SIGTERM})
        if info.si_pid == parent:
            os._exit(0)


def _free_bytes(folder: str) -> Optional[int]:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _state_bytes(runner) -> int:
    """Bytes of the tensors a checkpoint of ``runner`` holds (model and
    optimizer state): about the size of the file."""
    tensors = list(runner.model.state_dict().values())
    optim = getattr(runner, 'optim_wrapper', None)
    if optim is not None and hasattr(optim, 'state_dict'):
        try:
            for value in tree_leaves(optim.state_dict()):
                tensors.append(value)
        except Exception:  # an optimizer without state yet
            pass
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


# torch's checkpoint writer turns a failed write into a RuntimeError from its
# zip container ("[enforce fail at inline_container.cc:672] . unexpected pos").
_TORCH_WRITE_FAILURE = ('inline_container', 'PytorchStreamWriter', 'file write failed')


def _is_write_failure(err: BaseException) -> bool:
    if isinstance(err, OSError):
        return True
    return isinstance(err, RuntimeError) and any(k in str(err) for k in _TORCH_WRITE_FAILURE)


def _mb(n: Optional[int]) -> str:
    return 'an unknown amount' if n is None else f'{n / 2**20:.0f} MB'


def write_failure_message(path: str, err: BaseException, work_dir: str, needed: int,
                          free_at_failure: Optional[int] = None) -> str:
    """One line for a checkpoint that could not be written: which file,
    why (the OS error by name), how much it needs and how much is free,
    which earlier checkpoint is intact, and how to continue."""
    folder = osp.dirname(osp.abspath(path))
    free = _free_bytes(folder)
    errno_ = getattr(err, 'errno', None)
    if errno_:
        reason = os.strerror(errno_)
    elif free_at_failure is not None and free_at_failure < max(needed // 100, 2**20):
        reason = 'No space left on device'
    else:
        reason = f'the write failed ({str(err).splitlines()[0][:160]})'
    previous = intact_last_checkpoint(work_dir)
    if previous:
        kept = (f'the previous checkpoint {osp.basename(previous)} is intact; free space (or fix '
                'the cause) and continue from it with --resume')
    else:
        kept = ('no earlier checkpoint of this run was written; free space (or fix the cause) '
                'and start the run again')
    return (f'Could not write checkpoint {path}: {reason}. It needs about {_mb(needed)}; '
            f'{_mb(free)} free in {folder}; {kept}.')
