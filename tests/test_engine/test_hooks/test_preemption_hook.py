"""Pre-emption: SIGTERM (or SIGINT) during an iteration finishes it, writes a
complete checkpoint, stops with one line saying how to continue, and
``--resume`` ends with the weights of an uninterrupted run."""
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
import torch
from conftest import tiny_runner
from mmengine.hooks import Hook

from fasternet_dense import PreemptionHook, StepSeedHook
from fasternet_dense.engine.runner.checkpoints import checkpoint_problem, find_resumable_checkpoint
from fasternet_dense.utils.checkpoint import safe_torch_load
from fasternet_dense.utils.errors import TrainingStopped, run_tool


class SignalAt(Hook):
    """Sends ``signum`` to this process while iteration ``at`` (from 1)
    runs, as a scheduler would."""
    priority = 'HIGHEST'

    def __init__(self, at: int, signum=signal.SIGTERM):
        self.at, self.signum = at, signum

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            os.kill(os.getpid(), self.signum)


def _runner(work_dir, max_iters=6, resume=False, hooks=(), interval=4):
    """A small regression trained from a fixed seed with momentum SGD,
    shuffled data and dropout, so that an inexact resume would show."""
    from mmengine.model import BaseModel

    class Net(BaseModel):

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.linear = torch.nn.Linear(4, 1)
            self.drop = torch.nn.Dropout(0.5)

        def forward(self, inputs, labels=None, mode='loss'):
            inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
            out = self.linear(self.drop(inputs)).squeeze(1)
            return dict(loss=(out - labels.float()).square().mean())

    gen = torch.Generator().manual_seed(1)
    data = [dict(inputs=torch.randn(4, generator=gen), labels=torch.tensor(float(i % 3)))
            for i in range(16)]
    return tiny_runner(work_dir, Net(), data, max_iters, lr=0.05, interval=interval,
                       hooks=[dict(type=StepSeedHook), dict(type=PreemptionHook), *hooks],
                       shuffle=True, randomness=dict(seed=0), resume=resume)


def _weights(path):
    return safe_torch_load(str(path), map_location='cpu')['state_dict']


@pytest.mark.parametrize('at', [1, 3, 4])
def test_sigterm_saves_the_iteration_and_resume_ends_as_an_uninterrupted_run(tmp_path, at):
    reference = _runner(tmp_path / 'reference')
    reference.train()
    expected = _weights(tmp_path / 'reference' / 'iter_6.pth')

    work = tmp_path / 'preempted'
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped) as err:
        _runner(work, hooks=[SignalAt(at)]).train()
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored
    assert err.value.exit_code == 128 + signal.SIGTERM
    message = str(err.value)
    assert message == (f'Stopped by SIGTERM after iteration {at}: checkpoint '
                       f'{work / f"iter_{at}.pth"} is written whole; continue with '
                       'tools/train.py CONFIG --resume (the same work dir).')
    assert checkpoint_problem(str(work / f'iter_{at}.pth')) is None
    assert find_resumable_checkpoint(str(work)) == str(work / f'iter_{at}.pth')

    resumed = _runner(work, resume=True)
    resumed.train()
    got = _weights(work / 'iter_6.pth')
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


def test_sigint_stops_the_same_way_and_the_tool_exits_with_its_code(tmp_path, capsys):
    def train(argv):
        _runner(tmp_path, hooks=[SignalAt(2, signal.SIGINT)]).train()

    assert run_tool(train) == 128 + signal.SIGINT
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith('stopped: Stopped by SIGINT after iteration 2: checkpoint ')
    assert checkpoint_problem(str(tmp_path / 'iter_2.pth')) is None


# ------------------------------------------- the whole process group signalled
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'signal_group_child.py')


def _signal_group_run(work_dir, *args, launcher=None):
    """Run tests/signal_group_child.py in a process group of its own (so
    that its signal reaches its workers and ranks, not pytest); returns the
    finished process."""
    command = [sys.executable, CHILD, str(work_dir), *args]
    if launcher:
        command = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                   '--master_port', str(launcher), CHILD, str(work_dir), '--launcher', 'pytorch',
                   *args]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env,
                          start_new_session=True)


def _assert_stopped_whole(proc, work, signame, at):
    """One ``stopped:`` line for iteration ``at``, its checkpoint complete and
    named in last_checkpoint, no data worker killed."""
    output = proc.stdout + proc.stderr
    stopped = [line for line in proc.stderr.splitlines() if line.startswith('stopped: ')]
    assert stopped == [f'stopped: Stopped by {signame} after iteration {at}: checkpoint '
                       f'{work / f"iter_{at}.pth"} is written whole; continue with '
                       'tools/train.py CONFIG --resume (the same work dir).'], output[-3000:]
    assert 'DataLoader worker' not in output and 'Traceback' not in proc.stderr.split(
        'stopped: ')[0], output[-3000:]
    assert checkpoint_problem(str(work / f'iter_{at}.pth')) is None
    assert find_resumable_checkpoint(str(work)) == str(work / f'iter_{at}.pth')


@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGINT'])
@pytest.mark.parametrize('loop', [(), ('--persistent', ), ('--by-epoch', ),
                                  ('--by-epoch', '--persistent')],
                         ids=['iter', 'iter-persistent', 'epoch', 'epoch-persistent'])
def test_a_signal_to_the_whole_group_with_data_workers_saves_the_iteration(
        tmp_path, signame, loop):
    """A scheduler (or Ctrl-C) signals the main process and its two data
    workers: the workers keep serving, the iteration finishes and is saved,
    the run exits with the signal's code and one line, and resumes to the
    end."""
    work = tmp_path / 'run'
    proc = _signal_group_run(work, '--at', '10', '--signal', signame, *loop)
    assert proc.returncode == 128 + getattr(signal, signame), proc.stderr[-3000:]
    _assert_stopped_whole(proc, work, signame, 10)

    resumed = _signal_group_run(work, '--resume', *loop)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert checkpoint_problem(str(work / 'iter_24.pth')) is None


def test_sigterm_to_two_torchrun_ranks_and_their_workers_stops_both_at_one_iteration(tmp_path):
    """``torchrun`` with two gloo ranks, each with two data workers, all
    signalled as one group (SLURM's pre-emption): both ranks finish the same
    iteration and exit with 143, rank 0 saves it whole and prints the one
    line."""
    work = tmp_path / 'run'
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    proc = _signal_group_run(work, '--at', '6', launcher=port)
    ranks = re.findall(r'exitcode\s+: (-?\d+) \(pid', proc.stderr)
    assert ranks == ['143', '143'], proc.stderr[-3000:]
    stopped = [line for line in proc.stderr.splitlines() if line.startswith('stopped: ')]
    assert len(stopped) == 1, proc.stderr[-3000:]
    assert stopped[0].startswith(f'stopped: Stopped by SIGTERM after iteration 6: checkpoint '
                                 f'{work / "iter_6.pth"} is written whole')
    assert 'DataLoader worker' not in proc.stderr
    assert checkpoint_problem(str(work / 'iter_6.pth')) is None
