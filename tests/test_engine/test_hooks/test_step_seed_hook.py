"""Random draws that depend only on the training position, not on what
ran before in the process."""
import random

import numpy as np
import torch

from fasternet_dense.engine.hooks.step_seed_hook import StepSeedHook, reseed


# ------------------------------------------------------------ step seeding
class _Loop:
    def __init__(self):
        self.dataloader_iterator = iter(range(100))


class _Runner:
    seed = 7
    epoch = 0
    iter = 0

    def __init__(self):
        self.train_loop = _Loop()


def test_step_seeds_do_not_depend_on_history():
    hook = StepSeedHook()
    hook._base = 7
    draws = []
    for history in (0, 5):
        runner = _Runner()
        torch.rand(history)
        np.random.rand(history)
        hook.before_train_epoch(runner)
        fetched = [next(runner.train_loop.dataloader_iterator) for _ in range(3)]
        batch = np.random.rand(2)
        runner.iter = 3
        torch.rand(history + 1)
        hook.before_train_iter(runner, batch_idx=3)
        draws.append((fetched, batch.tolist(), torch.rand(3).tolist(), random.random()))
    assert draws[0] == draws[1]
    reseed(7, 1, 3)
    other = torch.rand(3).tolist()
    reseed(7, 1, 4)
    assert torch.rand(3).tolist() != other
