"""One training at a time in a work dir: an OS lock held while a run trains,
released on any exit."""
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, as_argv, error_line, loader_options

from fasternet_dense import cli
from fasternet_dense.datasets.toydata import make_toy_ade
from fasternet_dense.engine.runner.work_dir_lock import LOCK_FILE, WorkDirLock
from fasternet_dense.utils.errors import WorkDirInUseError

SEG_CONFIG = os.path.join(ROOT, 'configs', 'semfpn_fasternet_t0_toyade.py')

HOLD = """
import sys, time
from fasternet_dense.engine.runner.work_dir_lock import WorkDirLock
lock = WorkDirLock(sys.argv[1])
lock.acquire()
print('held', flush=True)
time.sleep(60)
"""


def _holder(work_dir):
    """Another process that takes the lock on ``work_dir`` and keeps it."""
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(work_dir)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    return proc


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(WorkDirInUseError) as err:
            WorkDirLock(str(tmp_path)).acquire()
        message = str(err.value)
        assert message.startswith(f'Work dir {tmp_path} is in use by another training (host ')
        assert f', PID {holder.pid}, started ' in message
        assert message.endswith('wait for it to end, or train into another folder with '
                                '--work-dir.')
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize('ending', ['exit', 'sigkill'])
def test_the_lock_goes_with_its_process(tmp_path, ending):
    """Released when the holder ends, however it ends: a SIGKILL leaves the
    file, never the lock."""
    holder = _holder(tmp_path)
    if ending == 'sigkill':
        holder.send_signal(signal.SIGKILL)
    else:
        holder.terminate()
    holder.wait()
    assert (tmp_path / LOCK_FILE).exists()
    with WorkDirLock(str(tmp_path)):
        pass
    with WorkDirLock(str(tmp_path)):  # released by the context
        pass


def test_in_one_process_the_lock_is_taken_once(tmp_path):
    with WorkDirLock(str(tmp_path)):
        with pytest.raises(WorkDirInUseError, match=f'PID {os.getpid()}'):
            WorkDirLock(str(tmp_path)).acquire()


def test_a_second_training_in_a_busy_work_dir_stops_before_writing(tmp_path):
    """The same command twice on one work dir: the second stops in one line
    naming the holder and writes nothing there (no checkpoint, no log, no
    data-check record)."""
    root = tmp_path / 'ade'
    make_toy_ade(str(root), num_train=4, num_val=2, image_size=64, seed=0)
    work = tmp_path / 'work'
    holder = _holder(work)
    before = sorted(os.listdir(work))
    try:
        proc = subprocess.run(
            [sys.executable, 'tools/train.py', SEG_CONFIG, '--work-dir', str(work),
             *as_argv(loader_options(root, **{'train_cfg.max_iters': 2}))],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    line = error_line(proc)
    assert line.startswith(f'error: Work dir {work} is in use by another training (host ')
    assert f'PID {holder.pid}' in line
    assert sorted(os.listdir(work)) == before == [LOCK_FILE]


def test_the_train_tool_holds_the_lock_while_it_trains_and_releases_it(tmp_path, monkeypatch):
    """While the runner trains the work dir is locked; after the run it is
    free again (in the same process)."""
    root = tmp_path / 'ade'
    make_toy_ade(str(root), num_train=4, num_val=2, image_size=64, seed=0)
    work = tmp_path / 'work'
    seen = []
    from mmengine.runner import Runner

    def train(runner):
        try:
            WorkDirLock(str(work)).acquire()
            seen.append('free')
        except WorkDirInUseError:
            seen.append('held')

    monkeypatch.setattr(Runner, 'train', train)
    argv = [SEG_CONFIG, '--work-dir', str(work),
            *as_argv(loader_options(root, **{'train_cfg.max_iters': 2}))]
    assert cli.train_main(argv) == 0
    assert seen == ['held']
    with WorkDirLock(str(work)):
        pass
