"""Batch-norm folding for inference.

An eval-mode batch norm is a per-channel affine map, so it folds into the
convolution before it: ``W' = W * s``, ``b' = (b - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``. A norm without affine parameters
(``affine=False``) has ``gamma = 1`` and ``beta = 0``. A norm without running
statistics (``track_running_stats=False``) normalises each batch with its own
statistics even in eval mode, so it is no fixed map and cannot be folded.
"""
from collections import Counter
from typing import List, Optional, Set, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.errors import ConfigError


def foldable(norm: nn.Module) -> bool:
    """Whether ``norm`` is a batch norm in eval mode with running statistics,
    i.e. a fixed per-channel affine map."""
    return (isinstance(norm, _BatchNorm) and not norm.training
            and norm.running_mean is not None and norm.running_var is not None)


def _unfoldable(names: List[str]) -> ConfigError:
    more = f' (and {len(names) - 1} more)' if len(names) > 1 else ''
    return ConfigError(
        f'Cannot fold batch norm {names[0]}{more} into a convolution: it has no running '
        'statistics (track_running_stats=False), so it normalises every batch with its own '
        'statistics. Build the model with track_running_stats=True in norm_cfg (the '
        'default) to fuse it, or run it unfused.')


def check_foldable(module: nn.Module) -> None:
    """Raise :class:`ConfigError` if a batch norm inside ``module`` (or
    ``module`` itself) has no running statistics and so cannot be folded."""
    bad = [name or type(module).__name__ for name, m in module.named_modules()
           if isinstance(m, _BatchNorm) and (m.running_mean is None or m.running_var is None)]
    if bad:
        raise _unfoldable(bad)


def fold_bn(weight: torch.Tensor, bias: Optional[torch.Tensor],
            norm: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """Fold an eval-mode batch norm into the preceding conv's weight and bias.

    ``weight`` has the output channels first (any trailing shape); ``bias``
    is ``(C, )`` or ``None``. Returns the folded weight (same shape) and a
    ``(C, )`` bias. Raises :class:`ConfigError` for a norm without running
    statistics.
    """
    if norm.running_mean is None or norm.running_var is None:
        raise _unfoldable([type(norm).__name__])
    std = torch.sqrt(norm.running_var + norm.eps)
    if norm.affine:
        scale = norm.weight / std
        shift = norm.bias - norm.running_mean * scale
    else:
        scale = 1.0 / std
        shift = -norm.running_mean * scale
    if bias is not None:
        shift = shift + bias * scale
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), shift


class ChannelAffine(nn.Module):
    """``x * weight + bias`` per channel: a batch norm folded for inference.

    Input and output ``(N, C, H, W)``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias.view(1, -1, 1, 1), x, self.weight.view(1, -1, 1, 1))


def fold_norm(norm: nn.Module) -> nn.Module:
    """A batch norm on its own (no conv before it) as a :class:`ChannelAffine`;
    any other module is returned unchanged."""
    if not isinstance(norm, _BatchNorm):
        return norm
    ones = torch.ones_like(norm.running_var) if norm.running_var is not None else None
    scale, shift = fold_bn(ones, None, norm)
    return ChannelAffine(scale, shift)


def fold_into_conv(conv: nn.Conv2d, norm: nn.Module) -> nn.Module:
    """Fold ``norm`` into ``conv`` in place; return the module to put in
    ``norm``'s place (an Identity, or ``norm`` itself if it is no batch norm)."""
    if not isinstance(norm, _BatchNorm):
        return norm
    weight, bias = fold_bn(conv.weight, conv.bias, norm)
    conv.weight = nn.Parameter(weight.detach().clone())
    conv.bias = nn.Parameter(bias.detach().clone())
    return nn.Identity()


def _plain_batch_norm(module: nn.Module) -> bool:
    """A batch norm that does nothing but normalise: subclasses that add to
    the forward (timm's ``BatchNormAct2d`` applies an activation) are not
    folded."""
    return isinstance(module, _BatchNorm) and type(module).forward is _BatchNorm.forward


def fuse_conv_bn(module: nn.Module) -> nn.Module:
    """Fold every batch norm that directly follows a conv among its parent's
    children (ConvModules, ResNet stems and bottlenecks, ``nn.Sequential``)
    into that conv, in place; the norm becomes an Identity.

    "Follows" means registered right after, the order in which OpenMMLab
    modules register a conv and its norm and run them. A norm of another
    width than the conv's output is not its norm and stays (EfficientFormer
    registers two convs, then their two norms: the second pair folds). Where
    registration order may differ from the order of the forward, compare the
    outputs before and after (the peer suites do). Batch norms whose class
    changes the forward (timm's ``BatchNormAct2d``) stay, and so do the norms
    of a conv shared by several modules (RTMDet's head shares its convs
    across levels, each level with its own norms): folding one level's norm
    would change the others.
    """
    counts = Counter(id(m) for _, m in module.named_modules(remove_duplicate=False))
    _fuse_conv_bn(module, {key for key, n in counts.items() if n > 1})
    return module


def _fuse_conv_bn(module: nn.Module, shared: Set[int]) -> None:
    last_conv = None
    for name, child in module.named_children():
        if (_plain_batch_norm(child) and last_conv is not None
                and child.num_features == last_conv.out_channels):
            module._modules[name] = fold_into_conv(last_conv, child)
            last_conv = None
        elif isinstance(child, nn.Conv2d):
            last_conv = None if id(child) in shared else child
        else:
            _fuse_conv_bn(child, shared)


__all__ = ['foldable', 'check_foldable', 'fold_bn', 'fold_norm', 'fold_into_conv', 'fuse_conv_bn',
           'ChannelAffine']
