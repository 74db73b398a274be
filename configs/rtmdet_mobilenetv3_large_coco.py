# RTMDet-tiny with a MobileNetV3-Large backbone in place of CSPNeXt-tiny, COCO,
# 300 epochs: mmdet's RTMDet-tiny recipe unchanged, the backbone emitting
# strides 8/16/32 into the PAFPN (neck in_channels set to its outputs'
# channels). Backbone: 2.97M parameters at strides 8-32 (CSPNeXt-tiny 2.35M);
# the stride-32 output is the final 1x1 conv (960 channels). No published result
# backs this config.
#
# The backbone is mmpretrain's MobileNetV3 (as in
# `mmpretrain::mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py`), with random
# weights. mmpretrain's ImageNet weights load from a local file as usual:
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.prefix=backbone. \
#       model.backbone.init_cfg.checkpoint=checkpoints/<mmpretrain checkpoint>.pth
from mmengine.config import read_base
from mmpretrain.models import MobileNetV3

from fasternet_dense.resume import CrashSafeRunner, StepSeedHook
from fasternet_dense.nonfinite import NonFiniteLossHook
from fasternet_dense.preemption import PreemptionHook
from fasternet_dense.unreadable import LoadImageFromFileOrSkip, UnreadableImageHook

with read_base():
    from ._base_.rtmdet_tiny_coco import *

# Crash-safe checkpoints and resume, position-seeded random draws and a stop at
# the first non-finite loss, a checkpoint on SIGTERM (see
# maskrcnn_fasternet_s_coco.py).
runner_type = CrashSafeRunner
custom_hooks = [
    *custom_hooks,
    dict(type=StepSeedHook),
    dict(type=NonFiniteLossHook),
    dict(type=PreemptionHook),
    dict(type=UnreadableImageHook),
]
# Training skips (and counts) an image that can no longer be read, and stops
# after too many (fasternet_dense.unreadable); evaluation reads every image.
train_dataloader.dataset.pipeline[0] = dict(type=LoadImageFromFileOrSkip,
                                            backend_args=backend_args)
custom_hooks[1].switch_pipeline[0] = dict(type=LoadImageFromFileOrSkip,
                                         backend_args=backend_args)  # PipelineSwitchHook

model.backbone = dict(type=MobileNetV3, arch='large', out_indices=(6, 12, 16))
model.neck.in_channels = [40, 112, 960]
