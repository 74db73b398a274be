# Semantic FPN, FasterNet-S backbone, ADE20K (150 classes), 512x512 crops.
# The recipe of the published Semantic FPN peers (PVT, PoolFormer): batch 32
# (8 GPUs x 4), 40k iterations, AdamW lr 2e-4, weight decay 1e-4, poly decay
# power 0.9 to 0; crops from images resized to (2048, 512) with ratio 0.5-2.0;
# test at (2048, 512) resized to a multiple of 32; eval and checkpoint every
# 4k iterations; FPN out 256, FPN head 128. No FasterNet result was published.
#
# A Python-style config: inherit it from any project with
#     with read_base():
#         from fasternet_dense.configs.semfpn_fasternet_s_ade20k import *
from mmengine.config import read_base

from fasternet_dense.models import FasterNet

with read_base():
    from ._base_.semantic_fpn_ade20k import *
    from ._base_.fault_tolerance import *

# Training that survives faults (checkpoints whole or not at all, exact
# resume, a stop at a NaN loss, a checkpoint on SIGTERM, unreadable images
# skipped and counted): _base_/fault_tolerance.py.
custom_hooks = [*fault_hooks]
train_dataloader.dataset.pipeline[0] = dict(skipping_loader)

pretrained = 'checkpoints/fasternet_s-epoch.299-val_acc1.81.2840.pth'
model.update(
    # mmseg's EncoderDecoder hands `pretrained` to the backbone; the backbone's
    # own init_cfg names the ImageNet weights instead.
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    neck=dict(in_channels=[128, 256, 512, 1024], out_channels=256, num_outs=4),
    decode_head=dict(in_channels=[256, 256, 256, 256], channels=128, num_classes=150))
model.backbone = dict(
    type=FasterNet,
    arch='s',
    drop_path_rate=0.1,
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader.update(batch_size=4, num_workers=4)
val_dataloader.update(batch_size=1, num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
    clip_grad=None)
# The recipe's batch: 8 GPUs x 4. tools/train.py --auto-scale-lr scales the
# learning rate to the batch of the run (e.g. x1/8 on one GPU).
auto_scale_lr = dict(enable=False, base_batch_size=32)
max_iters = 40000
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
