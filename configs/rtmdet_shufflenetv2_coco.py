# RTMDet-tiny with a ShuffleNetV2-1.0 backbone in place of CSPNeXt-tiny, COCO,
# 300 epochs: mmdet's RTMDet-tiny recipe unchanged, the backbone emitting
# strides 8/16/32 into the PAFPN (neck in_channels set to its outputs'
# channels). Backbone: 1.25M parameters at strides 8-32 (CSPNeXt-tiny 2.35M);
# the stride-32 output is the final 1x1 conv (1024 channels). No published
# result backs this config.
#
# The backbone is mmpretrain's ShuffleNetV2 (as in
# `mmpretrain::shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py`), with random
# weights. mmpretrain's ImageNet weights load from a local file as usual:
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.prefix=backbone. \
#       model.backbone.init_cfg.checkpoint=checkpoints/<mmpretrain checkpoint>.pth
from mmengine.config import read_base
from mmpretrain.models import ShuffleNetV2

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

model.backbone = dict(type=ShuffleNetV2, widen_factor=1.0, out_indices=(0, 1, 3))
model.neck.in_channels = [116, 232, 1024]
