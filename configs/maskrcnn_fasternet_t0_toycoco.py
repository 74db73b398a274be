# Mask R-CNN + FPN, FasterNet-T0 from scratch, on the toy COCO set that
# `python tools/make_toy_data.py coco` writes (3 shape classes, 128x128 images).
# Sized for 2 CPU cores in about 10 minutes: FPN and RoI heads narrowed to 64
# channels, 64 sampled RoIs per image, a 2-conv mask head, smaller anchors.
# AdamW lr 2e-3, wd 1e-4, batch 8, 24 epochs (720 iterations), lr x0.1 after
# epochs 18 and 22.
from mmengine.config import read_base

with read_base():
    from .maskrcnn_fasternet_t0_coco import *

data_root = 'data/toy_coco/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 128, 255), (60, 180, 75)])
image_scale = (128, 128)
width = 64

model.update(
    backbone=dict(init_cfg=None, drop_path_rate=0.0),
    neck=dict(out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width,
                  anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=256, num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(num_convs=2, in_channels=width, conv_out_channels=width,
                       num_classes=len(classes))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(skipping_loader),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader.update(
    batch_size=8,
    num_workers=2,
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

max_epochs = 24
train_cfg.update(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[18, 22], gamma=0.1),
]
optim_wrapper.update(optimizer=dict(lr=2e-3, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=8)  # the lr is for one process x 8
default_hooks.update(
    logger=dict(interval=10),
    checkpoint=dict(interval=4, max_keep_ckpts=2, save_last=True))
# A fixed seed: two runs on the same machine give the same metrics.
randomness = dict(seed=0)
