# RTMDet-tiny with a GhostNet-0.5 backbone in place of CSPNeXt-tiny, COCO, 300
# epochs: mmdet's RTMDet-tiny recipe unchanged, the backbone emitting strides
# 8/16/32 into the PAFPN (neck in_channels set to its outputs' channels).
# Backbone: 0.25M parameters at strides 8-32 (CSPNeXt-tiny 2.35M); timm's
# features_only GhostNet ends at the first stride-32 block (the classification
# network's last five blocks are not built). No published result backs this
# config.
#
# The backbone is timm's `ghostnet_050` through mmpretrain's TIMMBackbone, with
# random weights and no network access. timm's ImageNet weights are loaded from
# a local file (a .safetensors or .pth from the timm/ghostnet_050.* model on the
# Hugging Face hub) the way TIMMBackbone passes them on to timm:
#   --cfg-options model.backbone.pretrained=True \
#       model.backbone.pretrained_cfg_overlay.file=checkpoints/ghostnet_050.safetensors
from mmengine.config import read_base
from mmpretrain.models import TIMMBackbone

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

model.backbone = dict(
    type=TIMMBackbone,
    model_name='ghostnet_050',
    features_only=True,
    out_indices=(2, 3, 4),
    pretrained=False)
model.neck.in_channels = [20, 40, 80]
