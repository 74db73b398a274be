# RTMDet-tiny with a ShuffleNetV1-1.0 (3 groups) backbone in place of
# CSPNeXt-tiny, COCO, 300 epochs: mmdet's RTMDet-tiny recipe unchanged, the
# backbone emitting strides 8/16/32 into the PAFPN (neck in_channels set to its
# outputs' channels: its three stages, 240/480/960). Backbone: 0.90M parameters,
# 1.16 GFLOPs at strides 8-32; whole detector 12.70M, 15.8 GFLOPs at 640x640
# (CSPNeXt-tiny 2.35M, 2.76G; RTMDet-tiny 4.90M, 8.1G), counted by
#   python tools/get_flops.py rtmdet_shufflenetv1_coco --shape 640 640
# The PAFPN takes its widths from the 960-channel top map and holds 11.8G of it.
# No published result backs this config.
#
# The backbone is mmpretrain's ShuffleNetV1 (as in
# `mmpretrain::shufflenet_v1/shufflenet-v1-1x_16xb64_in1k.py`), with random
# weights. mmpretrain's ImageNet weights load from a local file as usual:
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.prefix=backbone. \
#       model.backbone.init_cfg.checkpoint=checkpoints/<mmpretrain checkpoint>.pth
from mmengine.config import read_base
from mmpretrain.models import ShuffleNetV1

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

model.backbone = dict(type=ShuffleNetV1, groups=3, widen_factor=1.0, out_indices=(0, 1, 2))
model.neck.in_channels = [240, 480, 960]
