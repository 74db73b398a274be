"""Stop a training run at the first NaN or infinite loss, or skip such
updates a set number of times.

Switched on in a config, by name (``custom_hooks = [dict(type=
'NonFiniteLossHook')]``) or by class as the project's configs do. A
non-finite loss makes non-finite gradients, and one optimizer step with them
ruins the weights for good, while the run goes on for days. The hook checks
the gradients right before each optimizer step (torch's
``Optimizer.register_step_pre_hook``): if any is NaN or infinite, it drops
all of them, so the step changes nothing. After the iteration it either
stops the run, naming the iteration and the loss terms, before any
checkpoint of that iteration is written (it runs before mmengine's
``CheckpointHook``), or, while fewer than ``max_skips`` updates have been
skipped, logs the skip and lets training go on. ``max_skips`` comes from the
hook's argument, else from the config's ``nonfinite_loss.max_skips``
(default 0), so ``--cfg-options nonfinite_loss.max_skips=10`` switches any
project config to skipping. With mixed precision, ``AmpOptimWrapper``'s
gradient scaler already skips steps whose scaled gradients overflow; the
hook still stops (or counts a skip) when the loss itself is not finite.
"""
import math
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...utils.errors import NonFiniteLossError
from ..runner.checkpoints import intact_last_checkpoint


def _optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    """The torch optimizers behind an ``OptimWrapper`` or ``OptimWrapperDict``."""
    if hasattr(optim_wrapper, 'optimizer'):
        return [optim_wrapper.optimizer]
    return [w.optimizer for w in optim_wrapper.values()]


def _loss_terms(outputs) -> Dict[str, float]:
    """The loss entries of a training step's log variables as floats."""
    terms = {}
    for key, value in (outputs or {}).items():
        if 'loss' in key:
            try:
                # detached: log variables may still carry the graph
                terms[key] = float(value.detach() if hasattr(value, 'detach') else value)
            except (TypeError, ValueError):
                continue
    return terms


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop at the first non-finite loss, or skip up to ``max_skips`` such
    updates (see the module docstring).

    Args:
        max_skips: updates with non-finite gradients to skip before
            stopping; None reads ``nonfinite_loss.max_skips`` from the
            config (default 0: stop at the first).

    Attributes:
        skipped: the iterations (counted from 1) whose update was skipped.
    """

    # Before the logger (BELOW_NORMAL) and the checkpoint hook (VERY_LOW).
    priority = 'ABOVE_NORMAL'

    def __init__(self, max_skips: Optional[int] = None):
        if max_skips is not None and max_skips < 0:
            raise ValueError(f'NonFiniteLossHook: max_skips must be >= 0; got {max_skips}.')
        self.max_skips = max_skips
        self.skipped: List[int] = []
        self._handles = []
        self._bad_gradients = False

    def before_train(self, runner) -> None:
        if self.max_skips is None:
            options = runner.cfg.get('nonfinite_loss') or {}
            self.max_skips = int(options.get('max_skips', 0))
        for optimizer in _optimizers(runner.optim_wrapper):
            self._handles.append(optimizer.register_step_pre_hook(self._check_gradients))

    def _check_gradients(self, optimizer, args, kwargs) -> None:
        params = [p for group in optimizer.param_groups for p in group['params']
                  if p.grad is not None]
        if all(torch.isfinite(p.grad).all() for p in params):
            return
        self._bad_gradients = True
        for p in params:  # no gradient, no change: the step leaves every weight as it is
            p.grad = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        terms = _loss_terms(outputs)
        bad = {k: v for k, v in terms.items() if not math.isfinite(v)}
        if not bad and not self._bad_gradients:
            return
        self._bad_gradients = False
        iteration = runner.iter + 1
        shown = ', '.join(f'{k}={v}' for k, v in (bad or terms).items())
        what = f'non-finite loss ({shown})' if bad else f'non-finite gradients (loss {shown})'
        if len(self.skipped) < self.max_skips:
            self.skipped.append(iteration)
            runner.logger.warning(f'NonFiniteLossHook: iteration {iteration}: {what}; the update '
                                  f'was skipped ({len(self.skipped)} of at most '
                                  f'{self.max_skips}).')
            return
        raise NonFiniteLossError(self._message(runner, iteration, what))

    def _message(self, runner, iteration: int, what: str) -> str:
        last = intact_last_checkpoint(runner.work_dir)
        if last:
            kept = (f'the last checkpoint, {osp.basename(last)}, holds the weights from before; '
                    'lower the learning rate or check the data and continue with --resume')
        else:
            kept = 'no checkpoint was written before it; lower the learning rate or check the data'
        skips = (f' after skipping {len(self.skipped)} such updates (iterations '
                 f'{", ".join(map(str, self.skipped))})' if self.skipped else '')
        return (f'Training stopped at iteration {iteration}{skips}: {what}. Nothing of this '
                f'iteration was saved; {kept}; or let up to N such updates be skipped with '
                '--cfg-options nonfinite_loss.max_skips=N.')

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


__all__ = ['NonFiniteLossHook']
