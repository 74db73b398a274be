# RTMDet-m with a FasterNet-T2 backbone in place of CSPNeXt, COCO,
# 300 epochs: mmdet's RTMDet-m recipe unchanged (mosaic and mixup, AdamW
# lr 4e-3, EMA, the last 20 epochs without mosaic, SyncBN), FasterNet emitting
# strides 8/16/32 into the PAFPN. Paired with RTMDet-m by backbone size:
# T2's backbone has 12.72M parameters (strides 8-32), CSPNeXt-m 12.28M;
# its outputs have the channels CSPNeXt-m gives.
# No published result backs this config.
from mmengine.config import read_base

from fasternet_dense.models import FasterNet

with read_base():
    from ._base_.rtmdet_m_coco import *
    from ._base_.fault_tolerance import *

# Training that survives faults: _base_/fault_tolerance.py.
custom_hooks = [*custom_hooks, *fault_hooks]
train_dataloader.dataset.pipeline[0] = dict(skipping_loader, backend_args=backend_args)
custom_hooks[1].switch_pipeline[0] = dict(skipping_loader,  # PipelineSwitchHook
                                         backend_args=backend_args)

pretrained = 'checkpoints/fasternet_t2-epoch.289-val_acc1.78.8860.pth'
model.backbone = dict(
    type=FasterNet,
    arch='t2',
    out_indices=(1, 2, 3),
    norm_cfg=dict(type='SyncBN'),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [192, 384, 768]
