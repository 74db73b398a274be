"""Checks on every core: chunks in forked workers, one call in a forked child."""
import os

import pytest

from fasternet_dense.datasets.datacheck import parallel
from fasternet_dense.datasets.datacheck.parallel import ForkedCall, chunked_map, worker_count


def _pids_and_squares(items, start, stop, shared):
    return [(os.getpid(), items[i] ** 2 + shared) for i in range(start, stop)]


def test_chunks_in_two_workers_give_the_serial_result_in_order():
    items = list(range(1000))
    serial = chunked_map(_pids_and_squares, items, workers=1, chunk_size=100, shared=3)
    forked = chunked_map(_pids_and_squares, items, workers=2, chunk_size=100, shared=3)
    values = [v for chunk in forked for _, v in chunk]
    assert values == [v for chunk in serial for _, v in chunk] == [i * i + 3 for i in items]
    assert {p for chunk in serial for p, _ in chunk} == {os.getpid()}
    assert os.getpid() not in {p for chunk in forked for p, _ in chunk}


def test_few_items_run_in_this_process():
    chunks = chunked_map(_pids_and_squares, list(range(10)), workers=2, chunk_size=3, shared=0)
    assert {p for chunk in chunks for p, _ in chunk} == {os.getpid()}
    assert len(chunks) == 4


def _child(x):
    return os.getpid(), x + 1, parallel._IN_FORKED_CALL


def _fails(message):
    raise ValueError(message)


def test_a_forked_call_returns_its_value_from_another_process():
    call = ForkedCall(_child, 41)
    pid, value, in_child = call.result()
    assert (value, in_child) == (42, True) and pid != os.getpid()
    assert not parallel._IN_FORKED_CALL
    assert ForkedCall(_child, 1, fork=False).result() == (os.getpid(), 2, False)


def test_a_forked_calls_error_is_raised_here():
    call = ForkedCall(_fails, 'bad annotation file')
    with pytest.raises(ValueError, match='bad annotation file'):
        call.result()
    with pytest.raises(ValueError, match='in process'):
        ForkedCall(_fails, 'in process', fork=False).result()


def test_worker_counts():
    assert worker_count(None) == parallel.available_cores()
    assert worker_count(0) == worker_count(1) == 1 and worker_count(3) == 3
