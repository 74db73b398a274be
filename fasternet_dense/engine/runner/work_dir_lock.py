"""One training at a time in a work dir.

Two runs writing into one work dir overwrite each other's checkpoints and
``last_checkpoint`` and mix their logs. :class:`WorkDirLock` holds an
exclusive OS lock (``fcntl.flock``) on ``WORK_DIR/.train.lock`` while a
training runs; the kernel drops it whenever the process ends, SIGKILL
included, so no stale lock outlives its holder. The file names the holder
(host, PID, start time) for the error a second run stops with.
"""
import fcntl
import json
import os
import os.path as osp
import socket
import time
from typing import Optional

from ...utils.errors import WorkDirInUseError

LOCK_FILE = '.train.lock'


class WorkDirLock:
    """Exclusive lock on a work dir for the length of a training run; a
    context manager (``with WorkDirLock(work_dir): ...``).

    Raises:
        WorkDirInUseError: another process holds it; the message names the
            holder and the fix.
    """

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_FILE)
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise WorkDirInUseError(
                f'Work dir {self.work_dir} is in use by another training ({holder}); wait for '
                'it to end, or train into another folder with --work-dir.') from None
        holder = dict(host=socket.gethostname(), pid=os.getpid(),
                      started=time.strftime('%Y-%m-%d %H:%M:%S'))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'WorkDirLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """``host H, PID P, started T`` from a lock file, or ``holder unknown``
    (it may be between taking the lock and writing its name)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode())
        return f'host {holder["host"]}, PID {holder["pid"]}, started {holder["started"]}'
    except (OSError, ValueError, KeyError, TypeError):
        return 'holder unknown'


__all__ = ['LOCK_FILE', 'WorkDirLock']
