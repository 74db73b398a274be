"""FasterNet backbone for dense prediction (mmdet 3.x / mmseg 1.x).

FasterNet (Chen et al., CVPR 2023) stacks blocks of a partial 3x3 convolution
(PConv, on the first ``dim // n_div`` channels) followed by a two-layer 1x1
MLP with a residual connection. This module emits the four stage outputs at
strides 4, 8, 16 and 32, each through its own output norm as in the official
detection backbone.

Output size rule: for an input of ``H x W`` (both >= 32), output ``i`` has
``floor(H / 2**(i + 2)) x floor(W / 2**(i + 2))`` pixels and
``embed_dim * 2**i`` channels. The stem (4x4, stride 4) and the mergers
(2x2, stride 2) use no padding, so trailing rows and columns that do not fill
a whole patch are dropped, exactly as in the official code.
"""
import os
import re
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, trunc_normal_init
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.errors import CheckpointMismatchError, ConfigError, MissingFileError
from ...utils.fileio import is_local
from ..utils.fusion import check_foldable, fold_bn, fold_into_conv, fold_norm, foldable

# embed_dim, depths, activation and ImageNet drop-path rate of each variant
# (mlp_ratio 2 and n_div 4 for all), from the paper's Table 7.
ARCH_SETTINGS: Dict[str, dict] = {
    't0': dict(embed_dim=40, depths=(1, 2, 8, 2), act='GELU', drop_path_rate=0.0),
    't1': dict(embed_dim=64, depths=(1, 2, 8, 2), act='GELU', drop_path_rate=0.02),
    't2': dict(embed_dim=96, depths=(1, 2, 8, 2), act='ReLU', drop_path_rate=0.05),
    's': dict(embed_dim=128, depths=(1, 2, 13, 2), act='ReLU', drop_path_rate=0.1),
    'm': dict(embed_dim=144, depths=(3, 4, 18, 3), act='ReLU', drop_path_rate=0.2),
    'l': dict(embed_dim=192, depths=(3, 4, 18, 3), act='ReLU', drop_path_rate=0.3),
}
# The official ImageNet-1k weights of each variant: the file name as the
# release serves it ('.' where the training code wrote '=') and its top-1.
# Configs look for them under checkpoints/.
PRETRAINED_URL = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'
PRETRAINED: Dict[str, dict] = {
    't0': dict(file='fasternet_t0-epoch.281-val_acc1.71.9180.pth', top1=71.918),
    't1': dict(file='fasternet_t1-epoch.291-val_acc1.76.2180.pth', top1=76.218),
    't2': dict(file='fasternet_t2-epoch.289-val_acc1.78.8860.pth', top1=78.886),
    's': dict(file='fasternet_s-epoch.299-val_acc1.81.2840.pth', top1=81.284),
    'm': dict(file='fasternet_m-epoch.291-val_acc1.82.9620.pth', top1=82.962),
    'l': dict(file='fasternet_l-epoch.299-val_acc1.83.5060.pth', top1=83.506),
}


def pretrained_path(arch: str) -> str:
    """Where the configs expect ``arch``'s ImageNet weights:
    ``checkpoints/<file>``."""
    return f"checkpoints/{PRETRAINED[arch]['file']}"


_CUSTOM_ARCH_KEYS = {'embed_dim', 'depths', 'act', 'drop_path_rate', 'mlp_ratio', 'n_div'}
MIN_INPUT_SIZE = 32


def resolve_arch(arch: Union[str, dict]) -> dict:
    """Return the full settings of ``arch`` (a variant name or a custom dict).

    Raises:
        ValueError: for an unknown name or a malformed dict, listing what is valid.
    """
    if isinstance(arch, str):
        key = arch.lower()
        if key.startswith('fasternet_'):
            key = key[len('fasternet_'):]
        if key not in ARCH_SETTINGS:
            raise ConfigError(
                f"Unknown FasterNet arch '{arch}'; use one of "
                f"{', '.join(ARCH_SETTINGS)} or a dict with embed_dim and depths.")
        settings = dict(ARCH_SETTINGS[key], name=key)
    elif isinstance(arch, dict):
        unknown = set(arch) - _CUSTOM_ARCH_KEYS
        missing = {'embed_dim', 'depths'} - set(arch)
        if unknown or missing:
            raise ConfigError(
                f'Custom FasterNet arch {arch} is malformed (unknown keys: '
                f'{sorted(unknown)}, missing keys: {sorted(missing)}); it takes '
                f'embed_dim, depths and optionally {sorted(_CUSTOM_ARCH_KEYS - {"embed_dim", "depths"})}.')
        if len(arch['depths']) != 4:
            raise ConfigError(f"Custom FasterNet arch needs 4 depths, got {arch['depths']}.")
        settings = dict(dict(act='ReLU', drop_path_rate=0.0, name='custom'), **arch)
    else:
        raise ConfigError(f'FasterNet arch must be a name or a dict, got {type(arch).__name__}.')
    settings.setdefault('mlp_ratio', 2.0)
    settings.setdefault('n_div', 4)
    settings['depths'] = tuple(settings['depths'])
    return settings


@MODELS.register_module()
class PartialConv(nn.Module):
    """PConv: a 3x3 conv on the first ``dim // n_div`` channels only.

    Input and output are ``(N, dim, H, W)``; the other channels pass through.
    The attribute name ``partial_conv3`` keeps the official checkpoint keys.
    Registered, so any config builds it: ``dict(type='PartialConv', dim=64)``.
    """

    def __init__(self, dim: int, n_div: int = 4):
        super().__init__()
        if not 1 <= n_div <= dim:
            raise ConfigError(f'PartialConv: n_div={n_div} must be between 1 and dim={dim} '
                              '(the conv sees dim // n_div channels).')
        self.dim_conv = dim // n_div
        self.dim_untouched = dim - self.dim_conv
        self.partial_conv3 = nn.Conv2d(self.dim_conv, self.dim_conv, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = torch.split(x, [self.dim_conv, self.dim_untouched], dim=1)
        return torch.cat((self.partial_conv3(x1), x2), dim=1)


@MODELS.register_module()
class FasterNetBlock(nn.Module):
    """PConv -> 1x1 (dim -> hidden) -> norm -> act -> 1x1 (hidden -> dim) -> + x.

    Registered, so a user's neck or backbone config can build it
    (``dict(type='FasterNetBlock', dim=128)``: the paper's defaults, MLP ratio
    2, ``n_div`` 4, batch norm and ReLU). Input and output are ``(N, dim, H, W)``.

    Training uses the paper's split/concatenate formulation
    (:meth:`forward_reference`). In eval mode with a batch norm that has
    running statistics (or a folded one), :meth:`forward_fast` gives the same
    result without materialising the concatenated tensor: the first 1x1 conv
    is a matrix product whose untouched columns read the input in place, and
    the residual add is accumulated into the second product. Traced (FLOP
    counters, the ONNX export) it is written with the products tracers count
    and export (:meth:`forward_traced`). Other norms keep the reference path.
    Neither path writes into its input.
    """

    def __init__(self, dim: int, n_div: int = 4, mlp_ratio: float = 2.0,
                 drop_path: float = 0.0, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None, fast_inference: bool = True):
        super().__init__()
        norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
        act_cfg = dict(type='ReLU') if act_cfg is None else act_cfg
        hidden = int(dim * mlp_ratio)
        self.spatial_mixing = PartialConv(dim, n_div)
        # Indices 0, 1, 3 keep the official checkpoint keys mlp.{0,1,3}.
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, bias=False),
            build_norm_layer(norm_cfg, hidden)[1],
            build_activation_layer(act_cfg),
            nn.Conv2d(hidden, dim, 1, bias=False),
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.fast_inference = fast_inference

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.fast_inference or not self._fast_path_applies():
            return self.forward_reference(x)
        return self.forward_fast(x)

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The paper's block: split, conv, concatenate, MLP, residual."""
        return x + self.drop_path(self.mlp(self.spatial_mixing(x)))

    def _fast_path_applies(self) -> bool:
        # The fast path needs the norm as a fixed affine map: a folded one, or
        # an eval-mode batch norm with running statistics.
        norm = self.mlp[1]
        return isinstance(norm, nn.Identity) or foldable(norm)

    def _first_linear(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Weight ``(hidden, dim)`` and bias of the first 1x1 conv with the
        (eval-mode) batch norm folded in."""
        conv, norm = self.mlp[0], self.mlp[1]
        weight = conv.weight.flatten(1)
        bias = conv.bias
        if isinstance(norm, _BatchNorm):
            weight, bias = fold_bn(weight, bias, norm)
        return weight, bias

    def forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """Exact eval-mode forward, ``(N, C, H, W) -> (N, C, H, W)``.

        Works on NCHW and channels-last inputs and keeps the input's memory
        format; the input tensor is only read. Under ``torch.jit.trace`` it
        runs :meth:`forward_traced`.
        """
        n, c, h, w = x.shape
        cp_ = self.spatial_mixing.dim_conv
        w1, b1 = self._first_linear()
        w2 = self.mlp[3].weight.flatten(1)
        y = self.spatial_mixing.partial_conv3(x[:, :cp_])
        if torch.jit.is_tracing():
            return self.forward_traced(x, y, w1, b1, w2)
        # The bias enters as the products' beta term and the activation runs in
        # place on the fresh hidden tensor: no extra pass or buffer for either.
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            # Channels-last: pixels are rows of an (N*H*W, C) matrix.
            xm = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
            ym = y.permute(0, 2, 3, 1).reshape(n * h * w, cp_)
            if b1 is None:
                hid = torch.mm(xm[:, cp_:], w1[:, cp_:].t())
            else:
                hid = torch.addmm(b1, xm[:, cp_:], w1[:, cp_:].t())
            # In-place products escape autocast: match the hidden dtype.
            hid.addmm_(ym.to(hid.dtype), w1[:, :cp_].t().to(hid.dtype))
            out = torch.addmm(xm, self._activate(hid), w2.t())
            return out.view(n, h, w, c).permute(0, 3, 1, 2)
        x = x.contiguous()
        xm = x.view(n, c, h * w)
        ym = y.reshape(n, cp_, h * w)
        w1x = w1[:, cp_:].expand(n, -1, -1)
        if b1 is None:
            hid = torch.bmm(w1x, xm[:, cp_:])
        else:
            hid = torch.baddbmm(b1.view(1, -1, 1), w1x, xm[:, cp_:])
        hid.baddbmm_(w1[:, :cp_].to(hid.dtype).expand(n, -1, -1), ym.to(hid.dtype))
        out = torch.baddbmm(xm, w2.expand(n, -1, -1), self._activate(hid))
        return out.view(n, c, h, w)

    def forward_traced(self, x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor,
                       b1: Optional[torch.Tensor], w2: torch.Tensor) -> torch.Tensor:
        """:meth:`forward_fast`'s arithmetic as a traced graph should hold
        it: the same three products as batched ``matmul`` (weights expanded
        over the batch) with the bias and both accumulations as additions.

        Tracing FLOP counters (mmengine's ``get_model_complexity_info``,
        fvcore) count ``matmul`` but not the fused ``baddbmm`` and in-place
        products of the eager path, which would leave most of the backbone
        uncounted; here they count the products as the 1x1 convs they
        replace. The ONNX export gets the same MatMul and Add nodes as
        before, for any batch size. Eager, the separate additions would be
        extra passes over the hidden tensor, so they are kept to traces. The
        result is NCHW-contiguous whatever the input's memory format.

        Args:
            x: the block input ``(N, C, H, W)``.
            y: the partial conv's output ``(N, C_p, H, W)``.
            w1: the first 1x1 conv's weight ``(hidden, C)``, norm folded in.
            b1: its bias ``(hidden, )`` (``None`` without a norm to fold).
            w2: the second 1x1 conv's weight ``(C, hidden)``.
        """
        n, c, h, w = x.shape
        cp_ = y.shape[1]
        xm = x.reshape(n, c, h * w)
        hid = torch.matmul(w1[:, cp_:].expand(n, -1, -1), xm[:, cp_:])
        hid = hid + torch.matmul(w1[:, :cp_].expand(n, -1, -1), y.reshape(n, cp_, h * w))
        if b1 is not None:
            hid = hid + b1.view(1, -1, 1)
        out = xm + torch.matmul(w2.expand(n, -1, -1), self._activate(hid))
        return out.view(n, c, h, w)

    def switch_to_deploy(self) -> 'FasterNetBlock':
        """Fold the batch norm into the first 1x1 conv (inference only, in
        place); a block whose norm has no running statistics raises
        :class:`ConfigError` and is left as it was."""
        check_foldable(self)
        self.eval()
        with torch.no_grad():
            self.mlp[1] = fold_into_conv(self.mlp[0], self.mlp[1])
        return self

    def _activate(self, hid: torch.Tensor) -> torch.Tensor:
        """The block's activation on a temporary it may overwrite."""
        act = self.mlp[2]
        if isinstance(act, nn.ReLU):
            return hid.relu_()
        return act(hid)


def use_fast_inference(module: nn.Module, enabled: bool = True) -> nn.Module:
    """Choose the eval-mode forward of every FasterNet block inside ``module``
    (a backbone or a whole detector or segmentor): fast or reference."""
    for sub in module.modules():
        if isinstance(sub, FasterNetBlock):
            sub.fast_inference = enabled
    return module


@contextmanager
def reference_forward(module: nn.Module) -> Iterator[nn.Module]:
    """Run every FasterNet block inside ``module`` on the paper's
    split/conv/concatenate path within the ``with`` block (for FLOP counts
    that include each block's batch norm, as the paper's do: the fast path
    has it folded into its first product); each block's own choice comes
    back afterwards."""
    blocks = [sub for sub in module.modules() if isinstance(sub, FasterNetBlock)]
    saved = [block.fast_inference for block in blocks]
    use_fast_inference(module, False)
    try:
        yield module
    finally:
        for block, fast in zip(blocks, saved):
            block.fast_inference = fast


class PatchEmbed(nn.Module):
    """Stem: 4x4 conv, stride 4, no bias, then norm. ``(N, 3, H, W) -> (N, C, H/4, W/4)``."""

    def __init__(self, in_channels: int, embed_dim: int, norm_cfg: dict):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, 4, 4, bias=False)
        self.norm = build_norm_layer(norm_cfg, embed_dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class PatchMerging(nn.Module):
    """Merger: 2x2 conv, stride 2, no bias, ``dim -> 2 * dim``, then norm."""

    def __init__(self, dim: int, norm_cfg: dict):
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, 2, 2, bias=False)
        self.norm = build_norm_layer(norm_cfg, 2 * dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x))


class FasterNetStage(nn.Module):
    """Optional merger (stages 1-3) followed by ``depth`` FasterNet blocks."""

    def __init__(self, dim: int, depth: int, downsample: bool, drop_paths: Sequence[float],
                 n_div: int, mlp_ratio: float, norm_cfg: dict, act_cfg: dict,
                 with_cp: bool = False, fast_inference: bool = True):
        super().__init__()
        self.downsample = PatchMerging(dim // 2, norm_cfg) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[
            FasterNetBlock(dim, n_div, mlp_ratio, drop_paths[i], norm_cfg, act_cfg,
                           fast_inference) for i in range(depth)
        ])
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        for block in self.blocks:
            if self.with_cp and self.training and torch.is_grad_enabled():
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


@MODELS.register_module()
class FasterNet(BaseModule):
    """FasterNet backbone emitting stride 4, 8, 16 and 32 feature maps.

    Args:
        arch: ``'t0'``, ``'t1'``, ``'t2'``, ``'s'``, ``'m'``, ``'l'`` or a dict
            with ``embed_dim``, ``depths`` and optionally ``act``,
            ``drop_path_rate``, ``mlp_ratio``, ``n_div``.
        in_channels: input image channels.
        out_indices: which stages (0-3) to output, each through its own norm.
        frozen_stages: -1 freezes nothing; 0 the stem; ``i`` (1-4) the stem
            and the first ``i`` stages (with their mergers and output norms). Frozen
            parts stay in eval mode through :meth:`train`.
        norm_eval: keep every batch norm in eval mode during training.
        norm_cfg: norm layer config (``BN``, ``SyncBN``, ...).
        act_cfg: activation config; defaults to the variant's (GELU for t0/t1,
            ReLU otherwise).
        drop_path_rate: stochastic depth at the last block, increasing
            linearly from 0; defaults to the variant's ImageNet value.
        with_cp: checkpoint each block's activations to save memory.
        fast_inference: in eval mode, use the exact fused-matmul block forward
            instead of split/concatenate (same outputs); blocks whose norm is
            no fixed affine map (a batch norm without running statistics, a
            group norm, ...) stay on split/concatenate.
        pretrained: deprecated alias of
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``
            (mmseg's ``EncoderDecoder`` passes it).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)`` loads the
            official ImageNet, timm or this package's layout; see
            :func:`fasternet_dense.models.backbones.fasternet.to_native_layout`.

    Input ``(N, in_channels, H, W)`` with ``H, W >= 32``; output a tuple of
    ``(N, embed_dim * 2**i, floor(H / 2**(i+2)), floor(W / 2**(i+2)))`` for
    ``i`` in ``out_indices``.
    """

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = None,
                 drop_path_rate: Optional[float] = None,
                 with_cp: bool = False,
                 fast_inference: bool = True,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        if pretrained is not None:
            if init_cfg is not None:
                raise ConfigError('FasterNet got both pretrained and init_cfg; set only '
                                 "init_cfg=dict(type='Pretrained', checkpoint=...).")
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg=init_cfg)
        settings = resolve_arch(arch)
        self.arch_name = settings['name']
        self.embed_dim = settings['embed_dim']
        self.depths = settings['depths']
        self.num_stages = len(self.depths)
        self.channels = tuple(self.embed_dim * 2**i for i in range(self.num_stages))

        out_indices = tuple(out_indices) if isinstance(out_indices, (list, tuple)) else (out_indices, )
        bad = [i for i in out_indices if not isinstance(i, int) or not 0 <= i < self.num_stages]
        if bad or not out_indices or len(set(out_indices)) != len(out_indices):
            raise ConfigError(f'FasterNet out_indices {out_indices} is invalid; use distinct '
                             f'stage indices from 0 to {self.num_stages - 1}, e.g. (0, 1, 2, 3).')
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= self.num_stages:
            raise ConfigError(f'FasterNet frozen_stages={frozen_stages} is out of range; use -1 '
                             f'(nothing frozen), 0 (stem only) or i in 1..{self.num_stages} '
                             f'(stem and the first i stages).')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.deployed = False

        if act_cfg is None:
            act_cfg = dict(type=settings['act'])
        if drop_path_rate is None:
            drop_path_rate = settings['drop_path_rate']
        if not 0.0 <= drop_path_rate < 1.0:
            raise ConfigError(f'FasterNet drop_path_rate={drop_path_rate} must be in [0, 1).')
        self.drop_path_rate = drop_path_rate

        self.patch_embed = PatchEmbed(in_channels, self.embed_dim, norm_cfg)
        total = sum(self.depths)
        dpr = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        stages = []
        for i, depth in enumerate(self.depths):
            start = sum(self.depths[:i])
            stages.append(
                FasterNetStage(self.channels[i], depth, i > 0, dpr[start:start + depth],
                               settings['n_div'], settings['mlp_ratio'], norm_cfg, act_cfg,
                               with_cp, fast_inference))
        self.stages = nn.Sequential(*stages)
        for i in out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.channels[i])[1])
        self.register_load_state_dict_pre_hook(_native_layout_hook)
        self._freeze_stages()

    # ----------------------------------------------------------------- running
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if x.dim() != 4 or x.shape[-2] < MIN_INPUT_SIZE or x.shape[-1] < MIN_INPUT_SIZE:
            raise ConfigError(f'FasterNet needs an (N, C, H, W) input with H, W >= '
                             f'{MIN_INPUT_SIZE}; got {tuple(x.shape)}.')
        x = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)

    def set_fast_inference(self, enabled: bool = True) -> 'FasterNet':
        """Choose the eval-mode block forward: fast (default) or reference."""
        return use_fast_inference(self, enabled)

    def switch_to_deploy(self) -> 'FasterNet':
        """Fold every batch norm into its conv (inference only, in place),
        under the name mmpretrain and mmyolo give a module's deployment
        re-parameterisation, so deployment code needs no special case.

        Stem, merger and block norms fold into the conv before them; each
        output norm becomes a per-channel affine. Afterwards the backbone holds
        no batch norm and must not be trained. Norms without affine
        parameters fold as well; norms without running statistics
        (``track_running_stats=False``) cannot, and raise :class:`ConfigError`.
        """
        if self.deployed:
            return self
        # Refuse before changing anything, so a refused model still runs.
        check_foldable(self)
        self.eval()
        with torch.no_grad():
            self.patch_embed.norm = fold_into_conv(self.patch_embed.proj, self.patch_embed.norm)
            for stage in self.stages:
                if isinstance(stage.downsample, PatchMerging):
                    stage.downsample.norm = fold_into_conv(stage.downsample.reduction,
                                                           stage.downsample.norm)
                for block in stage.blocks:
                    block.switch_to_deploy()
            for i in self.out_indices:
                setattr(self, f'norm{i}', fold_norm(getattr(self, f'norm{i}')))
        self.deployed = True
        return self

    # ---------------------------------------------------------------- training
    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield self.patch_embed
        for i in range(self.frozen_stages):
            yield self.stages[i]
            if i in self.out_indices:
                yield getattr(self, f'norm{i}')

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'FasterNet':
        if mode and self.deployed:
            raise RuntimeError('This FasterNet was fused for inference (BN folded); build a '
                               'fresh model to train.')
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # ------------------------------------------------------------------ init
    def init_weights(self):
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            self._load_pretrained(self.init_cfg['checkpoint'])
        elif self.init_cfg is not None:
            super().init_weights()
        else:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    trunc_normal_init(module, std=0.02, bias=0.0)
                elif isinstance(module, (_BatchNorm, nn.GroupNorm, nn.LayerNorm)):
                    constant_init(module, 1.0, bias=0.0)
        self._is_init = True

    def _load_pretrained(self, path: str):
        logger = MMLogger.get_current_instance()
        state_dict = load_pretrained_state_dict(path)
        result = self.load_state_dict(state_dict, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith('num_batches_tracked')]
        out_norms = tuple(f'norm{i}.' for i in self.out_indices)
        missing_out = [k for k in missing if k.startswith(out_norms)]
        others = [k for k in missing if not k.startswith(out_norms)]
        logger.info(f'FasterNet-{self.arch_name}: loaded {path} '
                    f'({len(state_dict)} tensors).')
        if missing_out:
            logger.info('Per-output norms are not in the checkpoint (ImageNet checkpoints '
                        'have none); they keep their initial values: ' + ', '.join(missing_out))
        if others:
            logger.warning('Backbone keys missing from the checkpoint: ' + ', '.join(others))
        if result.unexpected_keys:
            logger.warning('Checkpoint keys the backbone does not use: ' +
                           ', '.join(result.unexpected_keys))


def _native_layout_hook(module: FasterNet, state_dict: dict, prefix: str, *args) -> None:
    """Rewrite this backbone's keys of ``state_dict`` into the native layout.

    Runs on every ``load_state_dict`` that reaches the backbone (its own
    ``init_cfg``, a detector's ``load_from``, ``tools/test.py``), so official
    and timm checkpoints load on every path. Classifier keys are dropped and
    output norms the model does not have are ignored. Raises
    :class:`CheckpointMismatchError` when shapes do not match.
    """
    keys = [k for k in state_dict if k.startswith(prefix)]
    if not keys:
        return
    local = {k[len(prefix):]: state_dict.pop(k) for k in keys}
    converted, dropped = to_native_layout(local, module.out_indices)
    if dropped:
        MMLogger.get_current_instance().info(
            f'FasterNet: ignored {len(dropped)} checkpoint keys not used by a dense backbone '
            f'(classifier or unused output norms), e.g. {dropped[0]}')
    _check_shapes(module, converted, prefix)
    for key, value in converted.items():
        state_dict[prefix + key] = value


def _check_shapes(module: FasterNet, converted: dict, prefix: str) -> None:
    own = {k: v.shape for k, v in module.state_dict().items()}
    mismatched = [(k, tuple(v.shape), tuple(own[k])) for k, v in converted.items()
                  if k in own and hasattr(v, 'shape') and tuple(v.shape) != tuple(own[k])]
    if not mismatched:
        return
    stem = converted.get('patch_embed.proj.weight')
    guess = ''
    if stem is not None:
        names = [n for n, s in ARCH_SETTINGS.items() if s['embed_dim'] == stem.shape[0]]
        guess = (f' The checkpoint has embed_dim {stem.shape[0]}'
                 + (f" (arch '{names[0]}')" if len(names) == 1 else '') + ';')
    listed = '; '.join(f'{prefix}{k}: checkpoint {a} vs model {b}' for k, a, b in mismatched[:3])
    raise CheckpointMismatchError(
        f'Checkpoint does not match FasterNet arch {module.arch_name!r} (embed_dim '
        f'{module.embed_dim}, depths {module.depths}): {len(mismatched)} shape mismatches, '
        f'e.g. {listed}.{guess} set the backbone arch to the checkpoint\'s.')


def imagenet_head_parameters(arch: Union[str, dict], num_classes: int = 1000,
                             feature_dim: int = 1280) -> int:
    """Parameters of the official ImageNet classifier head that the dense
    backbone drops: a 1x1 conv ``8c -> 1280`` (no bias) and a linear layer."""
    settings = resolve_arch(arch)
    last = settings['embed_dim'] * 2**(len(settings['depths']) - 1)
    return last * feature_dim + feature_dim * num_classes + num_classes


__all__ = ['FasterNet', 'FasterNetBlock', 'PartialConv', 'ARCH_SETTINGS', 'resolve_arch',
           'imagenet_head_parameters', 'use_fast_inference', 'reference_forward']


_CLASSIFIER_PREFIXES = ('avgpool_pre_head.', 'head.', 'conv_head.', 'classifier.', 'fc.')


_OFFICIAL_MERGER = re.compile(r'stages\.\d+\.(reduction|norm)\.')


_STAGE_KEY = re.compile(r'stages\.(\d+)\.(.*)')


_OUT_NORM_KEY = re.compile(r'norm(\d+)\.(.*)')


def to_native_layout(state_dict: Dict[str, torch.Tensor],
                     out_indices: Sequence[int] = (0, 1, 2, 3)
                     ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Map backbone keys of any supported layout to the native one.

    Args:
        state_dict: keys relative to the backbone (no ``backbone.`` prefix).
        out_indices: output norms the model has; others are dropped.

    Returns:
        ``(converted, dropped)``: the native-layout dict and the keys dropped
        (classifier, unused output norms).
    """
    official = any(_OFFICIAL_MERGER.match(k) for k in state_dict)
    converted, dropped = {}, []
    for key, value in state_dict.items():
        if key.startswith(_CLASSIFIER_PREFIXES):
            dropped.append(key)
            continue
        if official:
            match = _STAGE_KEY.match(key)
            if match:
                index, rest = int(match.group(1)), match.group(2)
                key = (f'stages.{(index + 1) // 2}.downsample.{rest}'
                       if index % 2 else f'stages.{index // 2}.{rest}')
        match = _OUT_NORM_KEY.match(key)
        if match:
            index = int(match.group(1)) // 2 if official else int(match.group(1))
            if index not in out_indices:
                dropped.append(key)
                continue
            key = f'norm{index}.{match.group(2)}'
        converted[key] = value
    return converted, dropped


def _unwrap(checkpoint) -> dict:
    while isinstance(checkpoint, dict):
        for wrapper in ('state_dict', 'model'):
            inner = checkpoint.get(wrapper)
            if isinstance(inner, dict):
                checkpoint = inner
                break
        else:
            return checkpoint
    raise CheckpointMismatchError(
        f'Checkpoint holds a {type(checkpoint).__name__}, not a state dict.')


def _strip(state_dict: dict, prefix: str) -> dict:
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def load_pretrained_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a backbone checkpoint of any supported layout for ``init_cfg``.

    Unwraps ``state_dict`` / ``model``, strips ``module.`` and ``model.``;
    from a whole-detector or segmentor checkpoint keeps the ``backbone.``
    part. The layout itself is mapped when the backbone loads it.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if is_local(path) and not os.path.isfile(os.path.expanduser(path)):
        raise MissingFileError(
            f'FasterNet pretrained checkpoint {path} not found. Download the official '
            'ImageNet weights (docs/configs-and-checkpoints.md lists them) to that path, '
            'or train from scratch with model.backbone.init_cfg=None.')
    state_dict = _unwrap(CheckpointLoader.load_checkpoint(path, map_location='cpu'))
    state_dict = _strip(state_dict, 'module.')
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {k[len('backbone.'):]: v for k, v in state_dict.items()
                      if k.startswith('backbone.')}
    elif all(k.startswith('model.') for k in state_dict):
        state_dict = _strip(state_dict, 'model.')
    return state_dict
