# RTMDet-tiny with a GhostNetV2-1.0 backbone in place of CSPNeXt-tiny, COCO, 300
# epochs: mmdet's RTMDet-tiny recipe unchanged, the backbone emitting strides
# 8/16/32 into the PAFPN (neck in_channels set to its outputs' channels).
# Backbone: 1.25M parameters, 1.05 GFLOPs at strides 8-32; whole detector 2.13M,
# 4.6 GFLOPs at 640x640 (CSPNeXt-tiny 2.35M, 2.76G; RTMDet-tiny 4.90M, 8.1G),
# counted by
#   python tools/get_flops.py rtmdet_ghostnetv2_100_coco --shape 640 640
# timm's features_only GhostNetV2 ends at the first stride-32 block (the
# classification network's last five blocks are not built). No published result
# backs this config.
#
# The backbone is timm's `ghostnetv2_100` through mmpretrain's TIMMBackbone,
# with random weights and no network access. timm's ImageNet weights are loaded
# from a local file (a .safetensors or .pth from the timm/ghostnetv2_100.in1k
# model on the Hugging Face hub) the way TIMMBackbone passes them on to timm:
#   --cfg-options model.backbone.pretrained=True \
#       model.backbone.pretrained_cfg_overlay.file=checkpoints/ghostnetv2_100.safetensors
from mmengine.config import read_base
from mmpretrain.models import TIMMBackbone

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

model.backbone = dict(
    type=TIMMBackbone,
    model_name='ghostnetv2_100',
    features_only=True,
    out_indices=(2, 3, 4),
    pretrained=False)
model.neck.in_channels = [40, 80, 160]
