"""FasterNet backbones for dense prediction with mmdet 3.x and mmseg 1.x.

Importing this package registers its modules in mmengine's root registries
(reachable from mmdet and mmseg configs through
``custom_imports=dict(imports=['fasternet_dense'])``): the ``FasterNet``
backbone, its ``PartialConv`` and ``FasterNetBlock`` modules, the
``SqueezeNet`` backbone (torchvision's feature network, for the peer configs),
``CrashSafeRunner``, ``StepSeedHook``, ``NonFiniteLossHook``,
``PreemptionHook``, ``UnreadableImageHook`` with its training-pipeline
transform ``LoadImageFromFileOrSkip``, and
``OnnxSegmentor`` and ``OnnxDetector`` (exported models evaluated in
onnxruntime). Its one change to
another package is mmengine's checkpoint loading through torch's safe
``weights_only`` loader (listed in :mod:`fasternet_dense.utils.patches`). It does
not import mmdet or mmseg.
"""
from .datasets import LoadImageFromFileOrSkip
from .deploy import OnnxDetector, OnnxSegmentor
from .engine import (CrashSafeRunner, NonFiniteLossHook, PreemptionHook, StepSeedHook,
                     UnreadableImageHook)
from .models import (ARCH_SETTINGS, FasterNet, FasterNetBlock, PartialConv, SqueezeNet,
                     imagenet_head_parameters, resolve_arch, to_native_layout)
from .utils import patches
from .utils.checkpoint import safe_torch_load
from .utils.errors import (CheckpointMismatchError, CheckpointWriteError, ConfigError,
                           DatasetError, FasterNetDenseError, MissingFileError, NonFiniteLossError,
                           TrainingStopped, UnreadableImagesError, UnsafeCheckpointError)

patches.apply()

__version__ = '0.1.0'
__all__ = [
    'ARCH_SETTINGS', 'FasterNet', 'FasterNetBlock', 'PartialConv', 'SqueezeNet',
    'imagenet_head_parameters', 'resolve_arch', 'CheckpointMismatchError',
    'UnsafeCheckpointError', 'CheckpointWriteError', 'NonFiniteLossError', 'TrainingStopped',
    'ConfigError',
    'DatasetError', 'FasterNetDenseError', 'MissingFileError', 'CrashSafeRunner', 'StepSeedHook',
    'NonFiniteLossHook', 'PreemptionHook', 'UnreadableImageHook', 'LoadImageFromFileOrSkip',
    'UnreadableImagesError', 'OnnxSegmentor', 'OnnxDetector', 'safe_torch_load', 'to_native_layout'
]
