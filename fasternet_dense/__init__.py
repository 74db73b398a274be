"""FasterNet backbones for dense prediction with mmdet 3.x and mmseg 1.x.

Importing this package registers ``FasterNet`` in mmengine's root ``MODELS``
(reachable from mmdet and mmseg configs through
``custom_imports=dict(imports=['fasternet_dense'])``) and routes mmengine's
checkpoint loading through torch's safe ``weights_only`` loader. It does not
import mmdet or mmseg.
"""
from .backbone import (ARCH_SETTINGS, FasterNet, FasterNetBlock, PartialConv,
                       count_parameters, imagenet_head_parameters, resolve_arch)
from .checkpoint import install_safe_loading, safe_torch_load, to_native_layout
from .errors import (CheckpointMismatchError, ConfigError, DatasetError, FasterNetDenseError,
                     MissingFileError, UnsafeCheckpointError)
from .resume import install_resume_support

install_safe_loading()
install_resume_support()

__version__ = '0.1.0'
__all__ = [
    'ARCH_SETTINGS', 'FasterNet', 'FasterNetBlock', 'PartialConv', 'count_parameters',
    'imagenet_head_parameters', 'resolve_arch', 'CheckpointMismatchError',
    'UnsafeCheckpointError', 'ConfigError', 'DatasetError', 'FasterNetDenseError',
    'MissingFileError', 'install_safe_loading', 'safe_torch_load', 'to_native_layout'
]
