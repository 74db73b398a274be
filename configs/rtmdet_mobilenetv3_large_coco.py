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

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

model.backbone = dict(type=MobileNetV3, arch='large', out_indices=(6, 12, 16))
model.neck.in_channels = [40, 112, 960]
