"""Random draws that depend only on where training is.

:class:`StepSeedHook` reseeds Python's, NumPy's and torch's random
generators at the start of every epoch, every iteration and every training
batch fetch from ``(seed, position)``. Random draws then depend only on
where training is, not on what ran before in the process (validation, the
dataloader skipping already-trained batches on resume, ...), so a resumed
run repeats the uninterrupted run's augmentations, proposal sampling and
dropout. Data workers are seeded by mmengine's ``worker_init_fn`` from the
same seed when they start; with ``persistent_workers=True`` in an
epoch-based loop they carry their state across epochs, which a resumed run
cannot repeat (the hook warns). Switched on in a config:
``custom_hooks = [dict(type='StepSeedHook')]``.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

# ------------------------------------------------------------ seeding hook
# The streams a position is counted in.
_EPOCH, _ITER, _FETCH = 0, 1, 2


def reseed(base_seed: int, stream: int, position: int) -> None:
    """Seed ``random``, ``numpy.random`` and torch (CPU and CUDA) from
    ``(base_seed, stream, position)``; distinct triples give unrelated
    streams."""
    state = np.random.SeedSequence(
        [int(base_seed) & 0xFFFFFFFFFFFFFFFF, int(stream), int(position)]).generate_state(4)
    random.seed(int(state[0]) << 32 | int(state[1]))
    np.random.seed(state[:2])
    torch.manual_seed(int(state[2]) << 32 | int(state[3]))


class _SeededFetches:
    """Wraps a training loop's data iterator: fetch ``n`` runs after
    ``reseed(seed, fetch stream, n)``, so the data a fetch produces in this
    process does not depend on what ran before it."""

    def __init__(self, iterator, seed: int):
        self._iterator = iterator
        self._seed = seed
        self._count = 0

    def __iter__(self):
        return self

    def __next__(self):
        reseed(self._seed, _FETCH, self._count)
        self._count += 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class StepSeedHook(Hook):
    """Reseed all random generators from ``(seed, position)`` at each epoch
    start, each iteration start and each batch fetch, so that a resumed run
    draws exactly the random numbers the uninterrupted run drew.

    Args:
        seed: base seed; None takes the runner's (``randomness.seed``, or the
            seed mmengine drew and stored in the checkpoint).

    Runs last among hooks at each point (priority ``LOWEST``), right before
    the data fetch or training step it prepares.
    """

    priority = 'LOWEST'

    def __init__(self, seed: Optional[int] = None):
        self.seed = seed
        self._base = None

    def before_train(self, runner) -> None:
        self._base = self.seed if self.seed is not None else runner.seed
        loader = runner.train_dataloader
        from mmengine.runner import EpochBasedTrainLoop
        if (isinstance(runner.train_loop, EpochBasedTrainLoop)
                and getattr(loader, 'persistent_workers', False)
                and getattr(loader, 'num_workers', 0) > 0):
            runner.logger.warning(
                'StepSeedHook: persistent data workers keep their random state across '
                'epochs, so a resumed run will not repeat the data augmentation of an '
                'uninterrupted one exactly; set train_dataloader.persistent_workers=False '
                '(or num_workers=0) for exact resume.')

    def before_train_epoch(self, runner) -> None:
        reseed(self._base, _EPOCH, runner.epoch)
        loop = runner.train_loop
        iterator = getattr(loop, 'dataloader_iterator', None)
        if iterator is not None and not isinstance(iterator, _SeededFetches):
            # Iteration-based loops fetch (and on resume, skip) through this.
            loop.dataloader_iterator = _SeededFetches(iterator, self._base)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        reseed(self._base, _ITER, runner.iter)
