# RTMDet-tiny with a FasterNet-T0 backbone in place of CSPNeXt, COCO,
# 300 epochs: mmdet's RTMDet-tiny recipe unchanged (mosaic and mixup, AdamW
# lr 4e-3, EMA, the last 20 epochs without mosaic, SyncBN), FasterNet emitting
# strides 8/16/32 into the PAFPN. Paired with RTMDet-tiny by backbone size:
# T0's backbone has 2.22M parameters (strides 8-32), CSPNeXt-tiny 2.35M.
# No published result backs this config.
from mmengine.config import read_base

from fasternet_dense.models import FasterNet

with read_base():
    # Training that survives faults: _base_/fault_tolerance.py.
    from ._base_.rtmdet_tiny_coco_fault_tolerant import *

pretrained = 'checkpoints/fasternet_t0-epoch.281-val_acc1.71.9180.pth'
model.backbone = dict(
    type=FasterNet,
    arch='t0',
    out_indices=(1, 2, 3),
    norm_cfg=dict(type='SyncBN'),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [80, 160, 320]
