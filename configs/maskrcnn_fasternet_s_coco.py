# Mask R-CNN + FPN, FasterNet-S backbone, COCO instance segmentation, 1x.
# Paper recipe: 12 epochs, lr x0.1 after epochs 8 and 11, 500-iter linear
# warm-up; batch 16 (8 GPUs x 2); AdamW lr 2e-4, weight decay 1e-4; drop path
# 0.15; single-scale 1333x800 with random flip; FPN in channels [128, 256, 512,
# 1024]. Paper: 49.0M params, 258G FLOPs, 39.9 box AP, 36.9 mask AP.
#
# A Python-style config: inherit it from any project with
#     with read_base():
#         from fasternet_dense.configs.maskrcnn_fasternet_s_coco import *
from mmengine.config import read_base

from fasternet_dense.models import FasterNet

with read_base():
    from ._base_.mask_rcnn_coco import *
    from ._base_.fault_tolerance import *

# Training that survives faults (checkpoints whole or not at all, exact
# resume, a stop at a NaN loss, a checkpoint on SIGTERM, unreadable images
# skipped and counted): _base_/fault_tolerance.py.
custom_hooks = [*fault_hooks]
train_dataloader.dataset.pipeline[0] = dict(skipping_loader, backend_args=backend_args)

pretrained = 'checkpoints/fasternet_s-epoch.299-val_acc1.81.2840.pth'
model.backbone = dict(
    type=FasterNet,
    arch='s',
    drop_path_rate=0.15,
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [128, 256, 512, 1024]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
