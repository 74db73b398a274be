"""A NaN or infinite loss: the project's configs stop at the first one,
naming the iteration and the terms, with nothing of it saved; with
``nonfinite_loss.max_skips`` the update is skipped instead and logged."""
import os

import pytest
import torch
from conftest import tiny_runner

from fasternet_dense import NonFiniteLossHook
from fasternet_dense.engine.runner.checkpoints import checkpoint_problem, find_resumable_checkpoint
from fasternet_dense.utils.checkpoint import safe_torch_load
from fasternet_dense.utils.errors import NonFiniteLossError


def _runner(work_dir, bad_iters, max_iters=4, cfg_skips=None, hook_skips=None, hook=True):
    """A one-weight regression trained for ``max_iters`` iterations of 2
    samples, with a checkpoint every 2; the loss is NaN (term ``loss_a``) at
    the iterations (from 1) in ``bad_iters``."""
    from mmengine.model import BaseModel

    class Net(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)
            self.calls = 0

        def forward(self, inputs, labels=None, mode='loss'):
            self.calls += 1
            inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
            error = (self.linear(inputs).squeeze(1) - labels.float()).square().mean()
            if self.calls in bad_iters:
                error = error * float('nan')
            return dict(loss_a=error, loss_b=torch.tensor(0.5))

    data = [dict(inputs=torch.randn(2), labels=torch.tensor(1.0)) for _ in range(8)]
    extra = {} if cfg_skips is None else dict(cfg=dict(nonfinite_loss=dict(max_skips=cfg_skips)))
    hooks = [dict(type=NonFiniteLossHook) if hook_skips is None else dict(
        type=NonFiniteLossHook, max_skips=hook_skips)] if hook else []
    return tiny_runner(work_dir, Net(), data, max_iters, lr=0.01, interval=2, hooks=hooks,
                       **extra)


def _weights(path):
    return safe_torch_load(str(path), map_location='cpu')['state_dict']


def test_the_first_nan_loss_stops_the_run_and_saves_nothing_of_it(tmp_path):
    runner = _runner(tmp_path, bad_iters={3})
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    message = str(err.value)
    assert '\n' not in message
    assert message.startswith('Training stopped at iteration 3: non-finite loss (loss=nan, loss_a=nan)')
    assert 'the last checkpoint, iter_2.pth, holds the weights from before' in message
    assert '--resume' in message and 'nonfinite_loss.max_skips=N' in message
    # Nothing after iteration 2 was written, and what was written is finite.
    saved = sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth'))
    assert saved == ['iter_2.pth']
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    assert all(torch.isfinite(v).all() for v in _weights(tmp_path / 'iter_2.pth').values())
    # The step with NaN gradients left the weights in memory as they were.
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())


def test_max_skips_from_the_config_skips_the_update_and_logs_it(tmp_path):
    runner = _runner(tmp_path, bad_iters={3}, max_iters=3, cfg_skips=1)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, NonFiniteLossHook))
    assert hook.skipped == [3]
    # Iteration 3 changed nothing: the final weights are those after iteration 2.
    after_2 = _weights(tmp_path / 'iter_2.pth')
    for name, value in runner.model.state_dict().items():
        assert torch.equal(value, after_2[name]), name
    log = ''.join(open(os.path.join(dp, f)).read() for dp, _, files in os.walk(tmp_path)
                  for f in files if f.endswith('.log'))
    assert 'iteration 3: non-finite loss (loss=nan, loss_a=nan); the update was skipped (1 of at most 1)' \
        in log


def test_more_non_finite_losses_than_allowed_stop_with_the_skips_listed(tmp_path):
    runner = _runner(tmp_path, bad_iters={2, 3}, hook_skips=1)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    assert str(err.value).startswith('Training stopped at iteration 3 after skipping 1 such '
                                     'updates (iterations 2): non-finite loss (loss=nan, loss_a=nan)')
    assert checkpoint_problem(str(tmp_path / 'iter_2.pth')) is None


def test_finite_training_is_untouched_by_the_hook(tmp_path):
    torch.manual_seed(0)
    with_hook = _runner(tmp_path / 'a', bad_iters=set())
    torch.manual_seed(0)
    without = _runner(tmp_path / 'b', bad_iters=set(), hook=False)
    for runner in (with_hook, without):
        runner.train()
    a, b = (_weights(tmp_path / d / 'iter_4.pth') for d in 'ab')
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    hook = next(h for h in with_hook.hooks if isinstance(h, NonFiniteLossHook))
    assert hook.skipped == [] and hook._handles == []
