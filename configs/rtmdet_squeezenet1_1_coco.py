# RTMDet-tiny with a SqueezeNet 1.1 backbone in place of CSPNeXt-tiny, COCO, 300
# epochs: mmdet's RTMDet-tiny recipe unchanged but for the strides. SqueezeNet
# has no stride-32 map, so its maps at strides 4/8/16 (128/256/512 channels) go
# into the PAFPN and the head's point priors are at strides 4/8/16: the head
# runs on a 160x160 map at 640x640, four times the points of RTMDet's stride-8
# level. The stem conv is padded by 1 (torchvision's has none) so that the maps
# are exactly 160/80/40 pixels, which the PAFPN's concatenation of 2x upsampled
# maps needs. Backbone: 0.72M parameters, 2.34 GFLOPs at strides 4-16; whole
# detector 4.71M, 29.6 GFLOPs at 640x640 (CSPNeXt-tiny 2.35M, 2.76G; RTMDet-tiny
# 4.90M, 8.1G), counted by
#   python tools/get_flops.py rtmdet_squeezenet1_1_coco --shape 640 640
# The neck (15.8G) and head (11.4G) at stride 4 hold most of it.
# No published result backs this config.
#
# The backbone is torchvision's `squeezenet1_1().features` in this package's
# SqueezeNet (fasternet_dense.models), with random weights; torchvision's
# ImageNet checkpoint loads from a local file as it is:
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=checkpoints/squeezenet1_1-b8a52dc0.pth
from mmengine.config import read_base

from fasternet_dense.models import SqueezeNet

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

model.backbone = dict(type=SqueezeNet, arch='1_1', out_indices=(4, 7, 12), stem_padding=1)
model.neck.in_channels = [128, 256, 512]
model.bbox_head.anchor_generator.strides = [4, 8, 16]
