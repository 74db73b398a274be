from .fasternet import (ARCH_SETTINGS, FasterNet, FasterNetBlock, PartialConv,
                        imagenet_head_parameters, resolve_arch, to_native_layout)
from .squeezenet import SqueezeNet

__all__ = ['ARCH_SETTINGS', 'FasterNet', 'FasterNetBlock', 'PartialConv', 'SqueezeNet',
           'imagenet_head_parameters', 'resolve_arch', 'to_native_layout']
