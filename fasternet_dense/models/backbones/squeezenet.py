"""SqueezeNet (Iandola et al., 2016) as a dense-prediction backbone.

torchvision's feature network (``squeezenet1_0/1_1().features``: a stem conv,
then Fire modules between three max pools), returning the maps of the layers
``out_indices`` names. SqueezeNet has no stride-32 stage: its maps end at
stride 16. Its stem conv and max pools have no padding and the pools round
up, so each map is a pixel or two short of ``input / stride`` (a 640x640 input
gives 159, 79 and 39 pixels at strides 4, 8 and 16). FPNs that resize to the
map below take that as it comes; a neck that concatenates a 2x upsampled map
with the one below (RTMDet's CSPNeXtPAFPN) needs ``stem_padding=1``, which
gives exactly 1/4, 1/8 and 1/16 of an input divisible by 16.

The modules are torchvision's own, under the same names (``features.N``), so
torchvision's ImageNet checkpoint loads as it is (its ``classifier.*`` keys
are left out), e.g. ``init_cfg=dict(type='Pretrained',
checkpoint='checkpoints/squeezenet1_1-b8a52dc0.pth')``.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from ...utils.errors import ConfigError

# Variant -> (torchvision builder, layers ending at strides 4, 8 and 16 with
# their channels): the default outputs.
ARCHS = {
    '1_0': ('squeezenet1_0', (5, 10, 12), (256, 512, 512)),
    '1_1': ('squeezenet1_1', (4, 7, 12), (128, 256, 512)),
}


@MODELS.register_module()
class SqueezeNet(BaseModule):
    """torchvision's SqueezeNet feature network, with random weights.

    Args:
        arch: ``'1_0'`` or ``'1_1'`` (torchvision's ``squeezenet1_0`` /
            ``squeezenet1_1``).
        out_indices: indices into ``features`` whose outputs are returned;
            default the ends of the stride-4, -8 and -16 stages (SqueezeNet
            1.1: 128, 256 and 512 channels).
        stem_padding: zero padding of the 3x3 stride-2 stem conv (torchvision:
            0); the weights are the same either way.
        init_cfg: mmengine's initialisation, e.g. a ``Pretrained`` torchvision
            checkpoint.

    Input ``(N, 3, H, W)``; output a tuple of ``(N, C_i, H_i, W_i)``.
    """

    def __init__(self, arch: str = '1_1', out_indices: Optional[Sequence[int]] = None,
                 stem_padding: int = 0, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if arch not in ARCHS:
            raise ConfigError(f'SqueezeNet: unknown arch {arch!r}; known: {", ".join(ARCHS)}.')
        import torchvision  # here: importing the package needs no torchvision
        builder, default_indices, _ = ARCHS[arch]
        self.features = getattr(torchvision.models, builder)(weights=None).features
        self.features[0].padding = (stem_padding, stem_padding)
        self.out_indices = tuple(default_indices if out_indices is None else out_indices)
        if not self.out_indices or not all(0 <= i < len(self.features)
                                           for i in self.out_indices):
            raise ConfigError(f'SqueezeNet: out_indices {self.out_indices} must index its '
                              f'{len(self.features)} feature layers (0..{len(self.features) - 1}).')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs: List[torch.Tensor] = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
            if i == max(self.out_indices):
                break
        return tuple(outs)


__all__ = ['ARCHS', 'SqueezeNet']
