"""Parameters and FLOPs of a backbone and of its whole detector or segmentor.

FLOPs are counted by tracing (mmengine's ``FlopAnalyzer``, the counter behind
``get_model_complexity_info``): one multiply-add is one FLOP; convolutions,
matrix products, norms and upsampling are counted, activations, additions and
pooling are not; PyTorch's fused attention counts as its two matrix
products. FasterNet runs its split/conv/concatenate path while it is
counted, so that every product is a convolution.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmengine.analysis import parameter_count
from ..apis.config import load_config
from ..apis.inference import build_model, check_shape
from ..models.backbones.fasternet import reference_forward
from ..utils.tasks import task_of

# Network input of the FLOP counts: the paper counts Mask R-CNN at 1280x800,
# the Semantic FPN peers at 512x512. (H, W).
FLOPS_SHAPES = {'mmdet': (800, 1280), 'mmseg': (512, 512)}


class _TensorForward(nn.Module):
    """``inputs -> model._forward(inputs, data_samples)``: the raw head
    outputs without post-processing, for tracing."""

    def __init__(self, model: nn.Module, data_samples: list):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor):
        return self.model._forward(inputs, self.data_samples)


def _data_sample(scope: str, shape: Tuple[int, int]):
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                scale_factor=(1.0, 1.0))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return DetDataSample(metainfo=meta)
    from mmseg.structures import SegDataSample
    return SegDataSample(metainfo=meta)


def attention_flops(inputs: list, outputs: list) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention`` (a handle for
    mmengine's ``FlopAnalyzer``, which has none): the two products
    ``q @ k^T`` and ``attn @ v``, as it counts them when attention is spelled
    out with ``matmul``. Shapes: q ``(..., L, E)``, k ``(..., S, E)``, v
    ``(..., S, Ev)``."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(t) for t in inputs[:3])
    batch = 1
    for d in q[:-2]:
        batch *= d
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def count_flops(module: nn.Module, inputs: tuple) -> Tuple[int, Dict[str, int]]:
    """FLOPs of ``module(*inputs)`` as traced: the total and a map from
    every module name (``''`` for ``module`` itself) to its share.
    PyTorch's fused attention is counted as its two matrix products."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', attention_flops)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    by_module = analyzer.by_module()
    return analyzer.total(), by_module


def model_flops(model: nn.Module, inputs: torch.Tensor,
                data_samples: list) -> Tuple[int, Dict[str, int]]:
    """FLOPs of a detector's or segmentor's ``tensor`` forward (backbone,
    neck and heads without post-processing) on ``inputs`` (the data
    preprocessor's output), as :func:`count_flops` gives them; FasterNet is
    counted on its split/conv/concatenate path."""
    with reference_forward(model), torch.no_grad():
        return count_flops(_TensorForward(model, data_samples), (inputs, ))


def backbone_flops(backbone: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one ``backbone(x)`` call, counted as :func:`complexity`
    counts them (FasterNet on its split/conv/concatenate path, then left as
    it was)."""
    with reference_forward(backbone), torch.no_grad():
        return count_flops(backbone, (x, ))[0]


def complexity(config: str, shape: Optional[Sequence[int]] = None,
               cfg_options: Optional[dict] = None, whole_model: bool = True) -> Dict[str, object]:
    """Parameters and FLOPs of the backbone and of the whole model.

    The whole model runs its ``tensor`` forward: backbone, neck and heads
    without post-processing; Mask R-CNN's box head sees every RPN proposal
    and its mask head the first 100.

    Args:
        shape: network input ``(H, W)``; default 800x1280 (detection) or
            512x512 (segmentation).
        whole_model: also count the whole model (else only the backbone).

    Returns:
        ``dict(config, task, shape, params, flops, backbone_params,
        backbone_flops, by_module, proposals)``; ``by_module`` maps each
        top-level part (backbone, neck, heads, ``other``) to its FLOPs; ``proposals`` is
        the number of RPN proposals (detection) or ``None``.
    """
    cfg = load_config(config, cfg_options)
    scope = task_of(cfg)
    shape = check_shape(shape) or FLOPS_SHAPES[scope]
    model = build_model(cfg)
    backbone = model.backbone
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, *shape, generator=gen)
    samples = [_data_sample(scope, shape)]
    flops, by_module, proposals = None, {}, None
    with reference_forward(model), torch.no_grad():
        backbone_count = backbone_flops(backbone, x)
        if whole_model:
            flops, by_module = model_flops(model, x, samples)
        if whole_model and scope == 'mmdet' and getattr(model, 'with_rpn', False):
            feats = model.extract_feat(x)
            proposals = len(model.rpn_head.predict(feats, samples, rescale=False)[0])
    parts = {name: by_module.get(f'model.{name}', 0) for name, _ in model.named_children()}
    if flops is not None and flops != sum(parts.values()):
        # Ops a part runs in code called as a method rather than a module
        # (e.g. the upsampling in a decode head's forward) count at the top.
        parts['other'] = flops - sum(parts.values())
    return dict(config=config, task=scope, shape=shape,
                params=parameter_count(model)[''], flops=flops,
                backbone_params=parameter_count(backbone)[''],
                backbone_flops=backbone_count,
                by_module={k: v for k, v in parts.items() if v}, proposals=proposals)


__all__ = ['FLOPS_SHAPES', 'attention_flops', 'count_flops', 'model_flops', 'backbone_flops',
           'complexity']
