# RTMDet-tiny with a FasterNet-T0 backbone in place of CSPNeXt, COCO,
# 300 epochs: mmdet's RTMDet-tiny recipe unchanged (mosaic and mixup, AdamW
# lr 4e-3, EMA, the last 20 epochs without mosaic, SyncBN), FasterNet emitting
# strides 8/16/32 into the PAFPN. Paired with RTMDet-tiny by backbone size:
# T0's backbone has 2.22M parameters (strides 8-32), CSPNeXt-tiny 2.35M.
# No published result backs this config.
from mmengine.config import read_base

from fasternet_dense.backbone import FasterNet
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

pretrained = 'checkpoints/fasternet_t0-epoch.281-val_acc1.71.9180.pth'
model.backbone = dict(
    type=FasterNet,
    arch='t0',
    out_indices=(1, 2, 3),
    norm_cfg=dict(type='SyncBN'),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [80, 160, 320]
