# Semantic FPN, FasterNet-L backbone, ADE20K: the recipe of
# semfpn_fasternet_s_ade20k.py (batch 32, 40k iterations, AdamW lr 2e-4, wd
# 1e-4, poly 0.9, 512x512) with FPN in [192, 384, 768, 1536] and the
# variant's ImageNet drop path. No FasterNet result was published.
_base_ = './semfpn_fasternet_s_ade20k.py'

pretrained = 'checkpoints/fasternet_l-epoch.299-val_acc1.83.5060.pth'
model = dict(
    backbone=dict(arch='l', drop_path_rate=None,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[192, 384, 768, 1536]))
