# Semantic FPN, FasterNet-T0 from scratch, on the toy ADE20K-layout set that
# `python tools/make_toy_data.py ade` writes (5 classes, 128x128 images,
# label 0 = ignore as in ADE20K). Sized for 2 CPU cores in about 10 minutes:
# FPN 64 channels, head 64 channels, batch 8, 1800 iterations, AdamW lr 1e-3,
# poly decay.
from mmengine.config import read_base

with read_base():
    from .semfpn_fasternet_t0_ade20k import *

data_root = 'data/toy_ade/'
classes = ('ground', 'disc', 'box', 'stripes', 'triangle')
palette = [[120, 120, 120], [230, 60, 60], [60, 160, 230], [240, 200, 40], [80, 200, 90]]
crop_size = (128, 128)
width = 64

model.update(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None, drop_path_rate=0.0),
    neck=dict(out_channels=width),
    decode_head=dict(in_channels=[width] * 4, channels=width, num_classes=len(classes)))

train_pipeline = [
    dict(skipping_loader),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=dict(classes=classes, palette=palette),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_dataloader.update(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        dataset,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader.update(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 1800
optim_wrapper.update(optimizer=dict(lr=1e-3, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=8)  # the lr is for one process x 8
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg.update(max_iters=max_iters, val_interval=max_iters)
default_hooks.update(
    logger=dict(interval=50),
    checkpoint=dict(interval=300, max_keep_ckpts=2, save_last=True))
# A fixed seed: two runs on the same machine give the same metrics.
randomness = dict(seed=0)
