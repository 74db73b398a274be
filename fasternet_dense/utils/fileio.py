"""Files that appear whole or not at all.

A kill at any moment leaves either the old content at a path or the complete
new one, never a part: content goes to ``.NAME.PID.tmp`` beside the target,
is flushed and fsynced, then renamed over it.
"""
import builtins
import os
import os.path as osp
import re
from typing import List, Optional

_TEMP_NAME = re.compile(r'^\.(.+)\.(\d+)\.tmp$')


def is_local(path, backend_args: Optional[dict] = None) -> bool:
    """Whether mmengine's file backend for ``path`` is the local disk (not
    ``s3://``, ``http://``, ... read through a backend of their own)."""
    from mmengine.fileio import LocalBackend, get_file_backend
    try:
        backend = get_file_backend(str(path), backend_args=backend_args)
    except ImportError:  # a remote backend whose client is not installed here
        return False
    return isinstance(backend, LocalBackend)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:  # not supported on this platform / file system
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicWriter:
    """A file opened for writing whose content appears at ``path`` only when
    it is closed without an error: written to ``.NAME.PID.tmp`` beside it,
    flushed, fsynced and renamed over ``path``.

    Use as a context manager (an exception discards the temporary file) or
    call :meth:`close` / :meth:`discard`.
    """

    def __init__(self, path: str, mode: str = 'wb'):
        if not mode.startswith('w'):
            raise ValueError(f'AtomicWriter writes whole files; got mode {mode!r}')
        self.path = os.fspath(path)
        self.tmp_path = temp_path(self.path)
        self._file = builtins.open(self.tmp_path, mode)
        self._done = False

    def write(self, data):
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """Make the written content the file at ``path``."""
        if self._done:
            return
        self._done = True
        self._file.close()
        publish(self.tmp_path, self.path)

    def discard(self) -> None:
        """Drop the temporary file; ``path`` keeps its old content."""
        if self._done:
            return
        self._done = True
        self._file.close()
        try:
            os.remove(self.tmp_path)
        except OSError:
            pass

    def __getattr__(self, name):  # seek, tell, ... for torch.save
        return getattr(self._file, name)

    def __enter__(self) -> 'AtomicWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new
    content, never a part."""
    with AtomicWriter(path, 'wb') as f:
        f.write(data)


def remove_stale_temp_files(folder: str) -> List[str]:
    """Remove ``.NAME.PID.tmp`` files of processes no longer running (left
    by a kill during a save); returns the removed paths."""
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in os.listdir(folder):
        match = _TEMP_NAME.match(name)
        if not match or _pid_running(int(match.group(2))):
            continue
        path = osp.join(folder, name)
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            pass
    return removed


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def temp_path(path: str) -> str:
    """The hidden ``.NAME.PID.tmp`` file beside ``path`` that a writer of
    this process fills before :func:`publish` renames it."""
    folder, name = osp.split(os.fspath(path))
    return osp.join(folder, f'.{name}.{os.getpid()}.tmp')


def publish(written: str, path: str) -> None:
    """Flush ``written`` to disk and rename it over ``path`` in one step."""
    with builtins.open(written, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(written, path)
    _fsync_dir(osp.dirname(path))


def atomic_write_text(text: str, path: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(text.encode('utf-8'), path)
