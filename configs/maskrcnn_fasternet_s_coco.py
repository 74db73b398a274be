# Mask R-CNN + FPN, FasterNet-S backbone, COCO instance segmentation, 1x.
# Paper recipe: 12 epochs, lr x0.1 after epochs 8 and 11, 500-iter linear
# warm-up; batch 16 (8 GPUs x 2); AdamW lr 2e-4, weight decay 1e-4; drop path
# 0.15; single-scale 1333x800 with random flip; FPN in channels [128, 256, 512,
# 1024]. Paper: 49.0M params, 258G FLOPs, 39.9 box AP, 36.9 mask AP.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['fasternet_dense'], allow_failed_imports=False)
# Checkpoints written whole or not at all, resume from the newest complete
# one, and random draws that depend only on the training position, so that a
# killed run resumed with --resume ends as an uninterrupted one would.
runner_type = 'CrashSafeRunner'
custom_hooks = [dict(type='StepSeedHook')]

pretrained = 'checkpoints/fasternet_s-epoch.299-val_acc1.81.2840.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='s',
        drop_path_rate=0.15,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
