"""Running a check over many samples on all of the machine's cores.

:func:`chunked_map` splits ``range(len(items))`` into chunks and runs
``fn(items, start, stop, shared)`` on each in a ``ProcessPoolExecutor``
whose workers are started by ``fork``, so they see ``items`` and ``shared``
as the parent holds them (a parsed annotation file is not copied or
pickled); only the chunks' bounds and results travel. Where ``fork`` is not available, for one worker or for few
items, the chunks run in this process.

:class:`ForkedCall` computes one function in a forked child (a
one-worker ``ProcessPoolExecutor``) while this process does other work: the COCO check parses the annotation file there
(gigabytes of Python objects that this process, which goes on to train,
never holds, and that vanish with the child instead of being freed one by
one) while this process reads the images.
"""
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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
    object by object (which takes seconds for a parsed COCO train file);
    elsewhere, nothing."""
    if _IN_FORKED_CALL:
        _KEPT.append(obj)


def _forked_call(fn, args):
    global _IN_FORKED_CALL
    _IN_FORKED_CALL = True
    return fn(*args)


class ForkedCall:
    """``fn(*args)`` computed in a forked child process (in this process
    with ``fork=False`` or where ``fork`` is not available); :meth:`result`
    returns it or raises what it raised. ``fn`` is a module-level function
    and ``args`` are picklable (they travel to the child)."""

    def __init__(self, fn: Callable, *args, fork: bool = True):
        self._pool = None
        if not fork or 'fork' not in multiprocessing.get_all_start_methods():
            try:
                self._outcome = (True, fn(*args))
            except Exception as err:
                self._outcome = (False, err)
            return
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('fork'))
        self._future = self._pool.submit(_forked_call, fn, args)

    def ready(self) -> bool:
        """Whether :meth:`result` would return at once."""
        return self._pool is None or self._future.done()

    def result(self):
        if self._pool is not None:
            try:
                self._outcome = (True, self._future.result())
            except BrokenProcessPool:
                raise RuntimeError('the data check process ended without a result') from None
            except Exception as err:
                self._outcome = (False, err)
            finally:
                self._pool.shutdown()
                self._pool = None
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
    _TASK = (fn, items, shared)  # the forked workers see it as it is here
    try:
        with ProcessPoolExecutor(min(workers, len(bounds)),
                                 mp_context=multiprocessing.get_context('fork')) as pool:
            return list(pool.map(_run_chunk, bounds))
    finally:
        _TASK = None
