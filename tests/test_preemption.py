"""Pre-emption: SIGTERM (or SIGINT) during an iteration finishes it, writes a
complete checkpoint, stops with one line saying how to continue, and
``--resume`` ends with the weights of an uninterrupted run."""
import os
import signal

import pytest
import torch
from mmengine.hooks import Hook

from conftest import tiny_runner
from fasternet_dense import PreemptionHook, StepSeedHook
from fasternet_dense.checkpoint import safe_torch_load
from fasternet_dense.errors import TrainingStopped, run_tool
from fasternet_dense.resume import checkpoint_problem, find_resumable_checkpoint


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
