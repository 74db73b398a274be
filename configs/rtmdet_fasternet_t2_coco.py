# RTMDet-m with a FasterNet-T2 backbone in place of CSPNeXt, COCO,
# 300 epochs: mmdet's RTMDet-m recipe unchanged (mosaic and mixup, AdamW
# lr 4e-3, EMA, the last 20 epochs without mosaic, SyncBN), FasterNet emitting
# strides 8/16/32 into the PAFPN. Paired with RTMDet-m by backbone size:
# T2's backbone has 12.72M parameters (strides 8-32), CSPNeXt-m 12.28M;
# its outputs have the channels CSPNeXt-m gives.
# No published result backs this config.
from mmengine.config import read_base

from fasternet_dense.backbone import FasterNet
from fasternet_dense.resume import CrashSafeRunner, StepSeedHook
from fasternet_dense.nonfinite import NonFiniteLossHook
from fasternet_dense.preemption import PreemptionHook
from fasternet_dense.unreadable import LoadImageFromFileOrSkip, UnreadableImageHook

with read_base():
    from ._base_.rtmdet_m_coco import *

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

pretrained = 'checkpoints/fasternet_t2-epoch.289-val_acc1.78.8860.pth'
model.backbone = dict(
    type=FasterNet,
    arch='t2',
    out_indices=(1, 2, 3),
    norm_cfg=dict(type='SyncBN'),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [192, 384, 768]
