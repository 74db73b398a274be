"""Crash-safe checkpoints and exact resume.

Three parts, so that a training run killed at any moment and restarted with
``--resume`` ends with the weights an uninterrupted run would have:

Each is switched on in a config, by name in a text config::

    runner_type = 'CrashSafeRunner'
    custom_hooks = [dict(type='StepSeedHook')]

or by class in a Python-style one, as the project's configs do
(``runner_type = CrashSafeRunner``, ``dict(type=StepSeedHook)``).

* :class:`CrashSafeRunner` saves each checkpoint to a temporary file in the
  same folder, which is flushed, fsynced and then renamed over the final
  name. A kill leaves either the old file or the complete new one, never a
  truncated one (at most a hidden ``.NAME.PID.tmp`` file, removed on the
  next resume).
* Choosing the checkpoint to resume from (:func:`find_resumable_checkpoint`,
  used by that runner's automatic resume and by ``tools/train.py``): the file named in
  ``last_checkpoint`` is used if it is complete (zip structure and every
  member's CRC intact); if it is missing, truncated or corrupt, a warning
  names it and the newest complete ``epoch_N.pth`` / ``iter_N.pth`` in the
  work dir is used instead; if there is none, one clear error.
* :class:`StepSeedHook`: reseeds Python's, NumPy's and torch's random
  generators at the start of every epoch, every iteration and every training
  batch fetch from ``(seed, position)``. Random draws then depend only on
  where training is, not on what ran before in the process (validation, the
  dataloader skipping already-trained batches on resume, ...), so a resumed
  run repeats the uninterrupted run's augmentations, proposal sampling and
  dropout. Data workers are seeded by mmengine's ``worker_init_fn`` from the
  same seed when they start; with ``persistent_workers=True`` in an
  epoch-based loop they carry their state across epochs, which a resumed run
  cannot repeat (the hook warns).
"""
import logging
import os
import os.path as osp
import random
import re
import shutil
import signal
import zipfile
from typing import List, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.dist import is_main_process
from mmengine.registry import HOOKS, RUNNERS
from mmengine.runner import Runner

from .errors import CheckpointWriteError, MissingFileError
from .fileio import publish, remove_stale_temp_files, temp_path

LAST_CHECKPOINT = 'last_checkpoint'
_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


# ------------------------------------------------------------------ runner
def _is_local(path: str, backend_args: Optional[dict]) -> bool:
    from mmengine.fileio import LocalBackend, get_file_backend
    return isinstance(get_file_backend(path, backend_args=backend_args), LocalBackend)


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
    """

    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args: Optional[dict] = None, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, meta: Optional[dict] = None,
                        by_epoch: bool = True, backend_args: Optional[dict] = None) -> None:
        final = osp.join(out_dir, filename)
        atomic = file_client_args is None and _is_local(final, backend_args)
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
            for value in _leaves(optim.state_dict()):
                tensors.append(value)
        except Exception:  # an optimizer without state yet
            pass
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


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


# -------------------------------------------------------- checking, choosing
def last_checkpoint_record(work_dir: str) -> Optional[str]:
    """The path ``work_dir/last_checkpoint`` names, or None (no record, or
    an empty one)."""
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        return f.read().strip() or None


def intact_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, if it is complete;
    else None."""
    named = last_checkpoint_record(work_dir)
    return named if named and checkpoint_problem(named) is None else None


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from (``'missing'``, ``'truncated'``,
    ...), or None if it is a complete checkpoint.

    Zip checkpoints (torch's format since 1.6) are checked by their central
    directory and every member's CRC, without unpickling; older files are
    loaded.
    """
    if not osp.isfile(path):
        return 'missing'
    size = osp.getsize(path)
    if size == 0:
        return 'empty (0 bytes)'
    with open(path, 'rb') as f:
        magic = f.read(4)
    if magic == b'PK\x03\x04':
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            return f'truncated or corrupt ({size} bytes; {err})'
        if bad is not None:
            return f'corrupt (checksum mismatch in {bad})'
        if not any(n.endswith('/data.pkl') or n == 'data.pkl' for n in names):
            return 'not a torch checkpoint (no data.pkl inside)'
        return None
    if magic[:1] != b'\x80':  # the PROTO opcode every torch pickle starts with
        with open(path, 'rb') as f:
            head = f.read(12)
        return (f'not a checkpoint (torch writes a zip archive, or a pickle before torch 1.6; '
                f'this file starts with {head!r})')
    from .checkpoint import safe_torch_load
    from .errors import UnsafeCheckpointError
    try:
        safe_torch_load(path, map_location='cpu')
    except UnsafeCheckpointError:
        return 'refused by safe loading (it holds pickled objects other than weights)'
    except Exception as err:  # any failure means it cannot be resumed from
        return f'unreadable ({type(err).__name__}: {str(err).split(". ")[0]})'
    return None


def _candidates(folder: str) -> List[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``folder``, newest step first."""
    if not osp.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            path = osp.join(folder, name)
            found.append((int(match.group(2)), osp.getmtime(path), path))
    return [p for _, _, p in sorted(found, reverse=True)]


def _outside(path: str, work_dir: str) -> bool:
    """Whether the local ``path`` is not a file directly in ``work_dir``
    (a relative ``path`` is taken from the current folder, as it was
    written)."""
    if not _is_local(path, None):
        return False
    return osp.dirname(osp.abspath(path)) != osp.abspath(work_dir)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume the run in ``work_dir`` from, or None to
    start afresh (no checkpoint there at all).

    Prefers the file named in ``work_dir/last_checkpoint``. A record naming
    a file outside the work dir (a copied work dir) is read by file name in
    the work dir, or, without a complete file of that name there, warned of
    and not followed. If the file is missing, truncated or corrupt, warns and
    takes the newest complete ``epoch_N.pth`` / ``iter_N.pth`` in the work
    dir.

    Raises:
        MissingFileError: checkpoints exist but none is complete.
    """
    record = osp.join(work_dir, LAST_CHECKPOINT)
    named = last_checkpoint_record(work_dir)
    if named is not None and _outside(named, work_dir):
        # A copied work dir: its record still names the original's files.
        here = osp.join(work_dir, osp.basename(named))
        if checkpoint_problem(here) is None:
            print_log(f'{record} names {named}, outside this work dir; resuming from the '
                      f'file of that name here, {here}.', logger='current')
            return here
        print_log(f'{record} names {named}, outside this work dir, and this work dir has no '
                  'complete file of that name; not followed (a resume reads its own work '
                  'dir).', logger='current', level=logging.WARNING)
        named = None
    candidates = _candidates(work_dir)
    if named is None and not candidates:
        print_log(f'No checkpoint in {work_dir} to resume from; training starts afresh.',
                  logger='current')
        return None
    rejected = []
    if named is not None:
        problem = checkpoint_problem(named)
        if problem is None:
            return named
        rejected.append((named, problem))
    for path in candidates:
        if named is not None and osp.abspath(path) == osp.abspath(named):
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            if rejected:
                print_log(f'Checkpoint {rejected[0][0]} is {rejected[0][1]}; resuming from '
                          f'the newest complete one, {path}, instead.',
                          logger='current', level=logging.WARNING)
            else:
                print_log(f'{record} is missing or empty; resuming from the newest '
                          f'complete checkpoint, {path}.', logger='current',
                          level=logging.WARNING)
            return path
        rejected.append((path, problem))
    listed = '; '.join(f'{p} is {why}' for p, why in rejected[:3])
    raise MissingFileError(
        f'Cannot resume the run in {work_dir}: no complete checkpoint ({listed}). '
        'Start the run again without --resume, or pass a good checkpoint with --resume PATH.')


# ------------------------------------------------------------ seeding hook
def reseed(base_seed: int, stream: int, position: int) -> None:
    """Seed ``random``, ``numpy.random`` and torch (CPU and CUDA) from
    ``(base_seed, stream, position)``; distinct triples give unrelated
    streams."""
    state = np.random.SeedSequence(
        [int(base_seed) & 0xFFFFFFFFFFFFFFFF, int(stream), int(position)]).generate_state(4)
    random.seed(int(state[0]) << 32 | int(state[1]))
    np.random.seed(state[:2])
    torch.manual_seed(int(state[2]) << 32 | int(state[3]))


_EPOCH, _ITER, _FETCH = 0, 1, 2


class _SeededFetches:
    """Wraps a training loop's data iterator: fetch ``n`` runs after
    ``reseed(seed, fetch stream, n)``, so the data a fetch produces in this
    process does not depend on what ran before it."""

    def __init__(self, iterator, seed: int):
        self._iterator = iterator
        self._seed = seed
        self._count = 0

    def __iter__(self):
        return self

    def __next__(self):
        reseed(self._seed, _FETCH, self._count)
        self._count += 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class StepSeedHook(Hook):
    """Reseed all random generators from ``(seed, position)`` at each epoch
    start, each iteration start and each batch fetch, so that a resumed run
    draws exactly the random numbers the uninterrupted run drew.

    Args:
        seed: base seed; None takes the runner's (``randomness.seed``, or the
            seed mmengine drew and stored in the checkpoint).

    Runs last among hooks at each point (priority ``LOWEST``), right before
    the data fetch or training step it prepares.
    """

    priority = 'LOWEST'

    def __init__(self, seed: Optional[int] = None):
        self.seed = seed
        self._base = None

    def before_train(self, runner) -> None:
        self._base = self.seed if self.seed is not None else runner.seed
        loader = runner.train_dataloader
        from mmengine.runner import EpochBasedTrainLoop
        if (isinstance(runner.train_loop, EpochBasedTrainLoop)
                and getattr(loader, 'persistent_workers', False)
                and getattr(loader, 'num_workers', 0) > 0):
            runner.logger.warning(
                'StepSeedHook: persistent data workers keep their random state across '
                'epochs, so a resumed run will not repeat the data augmentation of an '
                'uninterrupted one exactly; set train_dataloader.persistent_workers=False '
                '(or num_workers=0) for exact resume.')

    def before_train_epoch(self, runner) -> None:
        reseed(self._base, _EPOCH, runner.epoch)
        loop = runner.train_loop
        iterator = getattr(loop, 'dataloader_iterator', None)
        if iterator is not None and not isinstance(iterator, _SeededFetches):
            # Iteration-based loops fetch (and on resume, skip) through this.
            loop.dataloader_iterator = _SeededFetches(iterator, self._base)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        reseed(self._base, _ITER, runner.iter)
