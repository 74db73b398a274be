# RTMDet-tiny with FasterNet-T0 from scratch, on the toy COCO set that
# `python tools/make_toy_data.py coco` writes (3 shape classes, 128x128 images).
# Sized for 2 CPU cores: the RTMDet-tiny model (neck and head 96 channels) on
# 128x128 inputs, flips as the only augmentation (mosaic and mixup are meant
# for 300 COCO epochs), AdamW lr 2e-3 (RTMDet's 4e-3 is for batch 256),
# batch 8, 80 epochs (2400 iterations; 8.6 minutes on 2 Intel Xeon cores) with
# cosine decay over the second half, EMA of the weights with momentum 0.002
# (RTMDet's 0.0002 averages over more iterations than this run has).
from mmengine.config import read_base

with read_base():
    from .rtmdet_fasternet_t0_coco import *

data_root = 'data/toy_coco/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 128, 255), (60, 180, 75)])
image_scale = (128, 128)

model.backbone.update(init_cfg=None, drop_path_rate=0.0)
model.bbox_head.num_classes = len(classes)
model.test_cfg.update(nms_pre=1000, max_per_img=20)

train_pipeline = [
    dict(skipping_loader),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='Pad', size=image_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader.update(
    batch_size=8,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader.update(
    batch_size=8,
    num_workers=2,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator.update(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_epochs = 80
train_cfg.update(max_epochs=max_epochs, val_interval=max_epochs, dynamic_intervals=None)
base_lr = 2e-3
optim_wrapper.optimizer.lr = base_lr
auto_scale_lr = dict(enable=False, base_batch_size=8)  # the lr is for one process x 8
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 2,
         end=max_epochs, T_max=max_epochs // 2, by_epoch=True, convert_to_iter_based=True),
]
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.002, update_buffers=True,
         priority=49),
    *fault_hooks,
]
default_hooks.update(
    logger=dict(interval=10),
    checkpoint=dict(interval=8, max_keep_ckpts=2, save_last=True))
# A fixed seed: two runs on the same machine give the same metrics.
randomness = dict(seed=0)
