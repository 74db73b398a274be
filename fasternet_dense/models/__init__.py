from .backbones import (ARCH_SETTINGS, FasterNet, FasterNetBlock, PartialConv, SqueezeNet,
                        imagenet_head_parameters, resolve_arch, to_native_layout)

__all__ = ['ARCH_SETTINGS', 'FasterNet', 'FasterNetBlock', 'PartialConv', 'SqueezeNet',
           'imagenet_head_parameters', 'resolve_arch', 'to_native_layout']
