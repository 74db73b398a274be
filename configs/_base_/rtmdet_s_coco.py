# RTMDet-s on COCO: mmdet 3.3's `rtmdet/rtmdet_s_8xb32-300e_coco.py` as a
# Python-style config (RTMDet-l narrower and shallower, ImageNet-pretrained
# CSPNeXt-s, milder scale jitter).
from mmengine.config import read_base

with read_base():
    from .rtmdet_l_coco import *

checkpoint = ('https://download.openmmlab.com/mmdetection/v3.0/rtmdet/cspnext_rsb_pretrain/'
              'cspnext-s_imagenet_600e.pth')
model.backbone.update(deepen_factor=0.33, widen_factor=0.5,
                      init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=checkpoint))
model.neck.update(in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1)
model.bbox_head.update(in_channels=128, feat_channels=128, exp_on_reg=False)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CachedMosaic', img_scale=(640, 640), pad_val=114.0),
    dict(type='RandomResize', scale=(1280, 1280), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    dict(type='CachedMixUp', img_scale=(640, 640), ratio_range=(1.0, 1.0),
         max_cached_images=20, pad_val=(114, 114, 114)),
    dict(type='PackDetInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs'),
]
train_dataloader.dataset.pipeline = train_pipeline
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True,
         priority=49),
    dict(type='PipelineSwitchHook', switch_epoch=280, switch_pipeline=train_pipeline_stage2),
]
