"""Models built and prepared for inference, shared by the benchmark, the FLOP
count and the ONNX export.

Models are built from the config without running ``init_weights``, so no
pretrained file is needed; a checkpoint is loaded only when one is given.
The inference options are batch-norm folding (``fuse``), channels-last
memory and autocast (``amp``);
:func:`~fasternet_dense.deploy.compare.reference_copy` gives the unfused
model on FasterNet's split/concatenate path that outputs are compared with.
A whole detector or segmentor runs autocast in its network only
(:func:`autocast_network`): post-processing stays in fp32.
"""
import copy
import os.path as osp
import platform
from contextlib import nullcontext
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope

from ..models.utils.fusion import fuse_conv_bn
from ..utils.errors import ConfigError, MissingFileError, OptionError
from ..utils.tasks import task_of, task_registries

AMP_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}

# The processor flags (/proc/cpuinfo: x86, then Arm) of instructions that
# compute each autocast dtype. Without any of them oneDNN emulates the dtype:
# its results are as close to fp32's as the native ones, but they come
# slower than plain fp32, many times slower without AVX-512.
CPU_AMP_FLAGS = {'bf16': ('avx512_bf16', 'amx_bf16', 'bf16'),
                 'fp16': ('avx512_fp16', 'amx_fp16', 'asimdhp')}

# The network of a detector or segmentor: attribute paths of the modules
# that autocast covers (absent ones are skipped; a ModuleList stands for its
# modules, ``.*`` for every child but the losses). Everything else (data
# preprocessing, RoI extraction, box decoding, NMS, mask pasting, resizing
# logits, argmax) stays in fp32, as mmdet 2.x's ``force_fp32`` kept it:
# mmcv's NMS and RoIAlign take only fp32 on CPU. mmseg's decode heads call
# their own ``forward`` as a method, which module hooks do not see, so their
# parts stand for them.
AMP_NETWORK = ('backbone', 'neck', 'rpn_head', 'bbox_head', 'roi_head.bbox_head',
               'roi_head.mask_head', 'decode_head.*')


# Methods by which a model re-parameterises itself for deployment (mmpretrain, timm).
DEPLOY_METHODS = ('switch_to_deploy', 'reparameterize')


# The least value of each count a timing takes.
_LEAST = dict(threads=1, iters=1, warmup=0, batch_size=1)


def check_counts(**counts) -> None:
    """Refuse a count that cannot be timed with (``iters=0``, a negative
    ``warmup``, ``threads=0``) instead of replacing it; None passes."""
    for name, value in counts.items():
        if value is not None and value < _LEAST[name]:
            default = (" (leave it out for torch's default, "
                       f'{torch.get_num_threads()} here)' if name == 'threads' else '')
            raise OptionError(name, f'{{option}} {value} is out of range: give {_LEAST[name]} '
                              f'or more{default}.')


def check_shape(shape: Optional[Sequence[int]], minimum: int = 32) -> Optional[Tuple[int, int]]:
    """Validate an ``(H, W)`` pair; ``None`` passes through."""
    if shape is None:
        return None
    shape = tuple(shape)
    if len(shape) != 2 or not all(isinstance(s, int) and s >= minimum for s in shape):
        raise OptionError('shape', f'{{option}} takes two integers H W, each >= {minimum}; got '
                          f'{" ".join(map(str, shape))}.')
    return shape


def build_model(cfg: Config, checkpoint: Optional[str] = None, device: str = 'cpu',
                seed: int = 0) -> nn.Module:
    """Build ``cfg.model`` in eval mode on ``device``.

    ``init_weights`` is not called, so backbones keep their seeded random
    initial weights and never look for their pretrained file; ``checkpoint``,
    when given, is loaded into the whole model. Synchronised batch norms
    (RTMDet's ``SyncBN``) become plain ones, as mmengine's runner does
    outside distributed runs.
    """
    scope = task_of(cfg)
    registry = task_registries(scope).MODELS
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(copy.deepcopy(cfg.model))
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise MissingFileError(f'Checkpoint {checkpoint} not found.')
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', logger='current')
    model.to(device).eval()
    return model


def fix_candidates(cfg: Config, keep: Sequence[str] = ()) -> List[str]:
    """Make a detector's post-processing load independent of its weights.

    Random weights put every score under a detector's ``score_thr`` (or some
    over it, depending on the draw), which changes how many boxes reach NMS
    and the mask head. Every ``score_thr`` in ``cfg.model``'s test settings is
    set to 0, so each stage processes the config's own caps (``nms_pre``,
    ``max_per_img``), in place. ``keep``: dotted keys the user set (left as
    they are). Returns one ``'key: old -> 0.0 (caps)'`` line per change.
    """
    changes = []

    def visit(node, path):
        if not isinstance(node, dict):
            return
        if ('test_cfg' in path and node.get('score_thr') not in (None, 0)
                and f'{path}.score_thr' not in keep):
            caps = ', '.join(f'{k} {node[k]}' for k in ('nms_pre', 'max_per_img') if k in node)
            changes.append(f'{path}.score_thr: {node["score_thr"]} -> 0.0'
                           + (f' ({caps})' if caps else ''))
            node['score_thr'] = 0.0
        for key, value in node.items():
            visit(value, f'{path}.{key}')

    visit(cfg.model, 'model')
    return changes


def fuse_model(module: nn.Module, deploy: bool = True) -> nn.Module:
    """Fold batch norms into convolutions for inference, in place.

    A module with its own re-parameterisation for deployment uses that
    (FasterNet's and mmpretrain's ``switch_to_deploy``, e.g. MobileOne and
    RepVGG; timm's ``reparameterize``, e.g. RepGhostNet) unless
    ``deploy=False`` says :func:`deploy_model` has already run; every
    remaining conv followed by a batch norm (ResNet, neck or head
    ConvModules) is folded by
    :func:`~fasternet_dense.models.utils.fusion.fuse_conv_bn`.
    """
    if deploy:
        deploy_model(module)
    return fuse_conv_bn(module)


def deploy_model(module: nn.Module) -> List[str]:
    """Run the deployment re-parameterisation (:data:`DEPLOY_METHODS`) of
    every module that has one, outermost first (a module's own call deploys
    its children), in place. Returns ``'name.method'`` for each call."""
    done, prefixes = [], []
    for name, sub in list(module.named_modules()):
        if any(name.startswith(prefix) for prefix in prefixes):
            continue
        method = next((m for m in DEPLOY_METHODS if callable(getattr(sub, m, None))), None)
        if method is not None:
            getattr(sub, method)()
            prefixes.append(f'{name}.' if name else '')
            done.append(f'{name}.{method}' if name else method)
    return done


def _channels_last_hook(module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def prepare_model(model: nn.Module, fuse: bool = False, channels_last: bool = False) -> nn.Module:
    """Apply the inference options to ``model`` (in place) and return it."""
    model.eval()
    if fuse:
        fuse_model(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        backbone = getattr(model, 'backbone', model)
        # The data preprocessor emits NCHW; the backbone converts its input.
        backbone.register_forward_pre_hook(_channels_last_hook)
    model.eval()  # some train() overrides (mmdet's ResNet) return None
    return model


def autocast(device: str, amp: Optional[str]):
    """The autocast context of ``amp`` (``'fp16'``, ``'bf16'`` or ``None``
    for plain fp32) on ``device``."""
    if amp is None:
        return nullcontext()
    return torch.autocast(device_type=device.split(':')[0], dtype=AMP_DTYPES[amp])


def cpu_flags() -> Tuple[str, Optional[set]]:
    """The processor's name and its feature flags from ``/proc/cpuinfo``
    (``None`` where that file is missing or lists none)."""
    name, flags = None, None
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = (part.strip() for part in line.partition(':'))
                if key == 'model name' and name is None:
                    name = value
                elif key in ('flags', 'Features') and flags is None:
                    flags = set(value.split())
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def amp_emulated(device: str, amp: str) -> Optional[str]:
    """Why ``device`` would only emulate ``amp`` arithmetic, in words to
    follow ``'--amp bf16: '``; ``None`` where it has the instructions (or
    where that cannot be told)."""
    if device.startswith('cuda'):
        if amp == 'bf16' and torch.cuda.get_device_capability(torch.device(device))[0] < 8:
            return (f'{torch.cuda.get_device_name(torch.device(device))} has no bf16 '
                    'arithmetic (it needs compute capability 8.0 or newer), so autocast '
                    'would emulate it, slower than fp32')
        return None
    name, flags = cpu_flags()
    if flags is None or flags & set(CPU_AMP_FLAGS[amp]):
        return None
    return (f'this processor ({name}) has no {amp} instructions (none of the flags '
            f'{", ".join(CPU_AMP_FLAGS[amp])}), so autocast would emulate {amp}, slower '
            'than fp32 (many times without AVX-512)')


def _to_fp32(out):
    """``out`` with its fp16 and bf16 tensors (in tuples, lists and dicts)
    cast to fp32; other values as they are."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype in (torch.float16, torch.bfloat16) else out
    if isinstance(out, (list, tuple)):
        items = [_to_fp32(o) for o in out]
        return type(out)(*items) if hasattr(out, '_fields') else type(out)(items)
    if isinstance(out, dict):
        return type(out)((k, _to_fp32(v)) for k, v in out.items())
    return out


class _AutocastRegion:
    """Forward hooks that run one module under autocast and hand its
    outputs on in fp32 (autocast off again, also when the forward raises)."""

    def __init__(self, device_type: str, dtype: torch.dtype):
        self.device_type, self.dtype = device_type, dtype
        self.open = []

    def enter(self, module: nn.Module, args: tuple) -> None:
        context = torch.autocast(device_type=self.device_type, dtype=self.dtype)
        context.__enter__()
        self.open.append(context)

    def leave(self, module: nn.Module, args: tuple, output):
        self.open.pop().__exit__(None, None, None)
        return _to_fp32(output)


def network_modules(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``(name, module)`` of each module of :data:`AMP_NETWORK` that
    ``model`` has, ModuleLists and ``.*`` expanded (losses left out)."""
    found = []

    def add(name, module):
        if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
            for child, sub in module.named_children():
                add(f'{name}.{child}', sub)
        elif isinstance(module, nn.Module):
            found.append((name, module))

    for path in AMP_NETWORK:
        parts = path.removesuffix('.*').split('.')
        module = model
        for part in parts:
            module = getattr(module, part, None)
        if module is None:
            continue
        if path.endswith('.*'):
            for child, sub in module.named_children():
                if not child.startswith('loss'):
                    add(f'{".".join(parts)}.{child}', sub)
        else:
            add(path, module)
    return found


def autocast_network(model: nn.Module, amp: str, device: str = 'cpu') -> List[str]:
    """Run the network of a detector or segmentor under ``amp`` autocast
    and everything else in fp32, from now on (in place).

    Each module of :data:`AMP_NETWORK` gets forward hooks: autocast on when
    it starts; when it ends, autocast back as it was and its fp16/bf16
    outputs cast to fp32. So the convolutions and matrix products of the
    backbone, neck and heads run in ``amp``, while the post-processing
    (``predict_by_feat``, NMS, RoIAlign, mask pasting, resizing and argmax
    of logits) sees fp32 tensors with autocast off. ``device``: where the
    model is (``'cpu'``, ``'cuda[:i]'``). Returns the modules' names.
    """
    if amp not in AMP_DTYPES:
        raise OptionError('amp', f'{{option}} takes {" or ".join(AMP_DTYPES)}; got {amp}.')
    modules = network_modules(model)
    if not modules:
        raise ConfigError(f'{type(model).__name__} has none of the modules autocast covers '
                          f'({", ".join(AMP_NETWORK)}); run it without amp.')
    for _, module in modules:
        region = _AutocastRegion(device.split(':')[0], AMP_DTYPES[amp])
        module.register_forward_pre_hook(region.enter)
        module.register_forward_hook(region.leave, always_call=True)
    return [name for name, _ in modules]


__all__ = ['AMP_DTYPES', 'AMP_NETWORK', 'CPU_AMP_FLAGS', 'DEPLOY_METHODS', 'check_shape',
           'build_model', 'fix_candidates', 'fuse_model', 'deploy_model', 'prepare_model',
           'autocast', 'amp_emulated', 'autocast_network', 'cpu_flags', 'network_modules']
