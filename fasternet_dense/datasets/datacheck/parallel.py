"""Running a check over many samples on all of the machine's cores.

:func:`chunked_map` splits ``range(len(items))`` into chunks and runs
``fn(items, start, stop, shared)`` on each in worker processes started by
``fork``, which see ``items`` and ``shared`` as the parent holds them (a
parsed annotation file is not copied or pickled); only the chunks' results
travel back. Where ``fork`` is not available, for one worker or for few
items, the chunks run in this process.

:class:`ForkedCall` computes one function in a forked child while this
process does other work: the COCO check parses the annotation file there
(gigabytes of Python objects that this process, which goes on to train,
never holds, and that vanish with the child instead of being freed one by
one) while this process reads the images.
"""
import multiprocessing
import os
from typing import Any, Callable, List, Optional, Sequence

# What forked workers read: (fn, items, shared), set just before the pool starts.
_TASK: Optional[tuple] = None
# Fewer items than this run in this process: starting workers costs more.
MIN_PARALLEL_ITEMS = 256


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(requested: Optional[int]) -> int:
    """``requested`` workers, or every available core for None; 0 and 1
    both mean "in this process"."""
    if requested is None:
        return available_cores()
    return max(1, int(requested))


# Objects a forked call keeps until its process ends (see keep_until_exit).
_KEPT: list = []
_IN_FORKED_CALL = False


def keep_until_exit(obj) -> None:
    """In a :class:`ForkedCall`'s child, keep ``obj`` until the process
    ends, so that its memory goes with the process rather than being freed
    object by object (1.5 s for a parsed COCO train file); elsewhere, nothing."""
    if _IN_FORKED_CALL:
        _KEPT.append(obj)


def _forked_call(conn, fn, args) -> None:
    global _IN_FORKED_CALL
    _IN_FORKED_CALL = True
    try:
        outcome = (True, fn(*args))
    except BaseException as err:  # handed to the parent, which raises it
        outcome = (False, err)
    try:
        conn.send(outcome)
    except Exception as err:  # an exception that does not pickle
        conn.send((False, RuntimeError(f'{type(outcome[1]).__name__}: {outcome[1]}: {err}')))
    conn.close()


class ForkedCall:
    """``fn(*args)`` computed in a forked child process (in this process
    with ``fork=False`` or where ``fork`` is not available); :meth:`result`
    returns it or raises what it raised."""

    def __init__(self, fn: Callable, *args, fork: bool = True):
        self._process = None
        if not fork or 'fork' not in multiprocessing.get_all_start_methods():
            self._outcome = (True, fn(*args))
            return
        context = multiprocessing.get_context('fork')
        self._receiver, sender = context.Pipe(duplex=False)
        # Not a daemon: the child starts workers of its own.
        self._process = context.Process(target=_forked_call, args=(sender, fn, args))
        self._process.start()
        sender.close()

    def ready(self) -> bool:
        """Whether :meth:`result` would return at once."""
        return self._process is None or self._receiver.poll()

    def result(self):
        if self._process is not None:
            try:
                self._outcome = self._receiver.recv()
            except EOFError:
                self._process.join()
                raise RuntimeError(f'the data check process ended without a result (exit '
                                   f'code {self._process.exitcode})') from None
            finally:
                self._receiver.close()
            self._process.join()
            self._process = None
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def _run_chunk(bounds):
    fn, items, shared = _TASK
    return fn(items, bounds[0], bounds[1], shared)


def chunked_map(fn: Callable[[Sequence, int, int, Any], Any], items: Sequence, workers: int,
                chunk_size: int = 2000, shared: Any = None) -> List[Any]:
    """``[fn(items, start, stop, shared) for each chunk]``, in chunk order."""
    global _TASK
    bounds = [(start, min(start + chunk_size, len(items)))
              for start in range(0, len(items), chunk_size)]
    if (workers <= 1 or len(items) < MIN_PARALLEL_ITEMS
            or 'fork' not in multiprocessing.get_all_start_methods()):
        return [fn(items, start, stop, shared) for start, stop in bounds]
    _TASK = (fn, items, shared)
    try:
        with multiprocessing.get_context('fork').Pool(min(workers, len(bounds))) as pool:
            return pool.map(_run_chunk, bounds, chunksize=1)
    finally:
        _TASK = None
