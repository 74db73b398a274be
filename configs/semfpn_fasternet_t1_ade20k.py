# Semantic FPN, FasterNet-T1 backbone, ADE20K: the recipe of
# semfpn_fasternet_s_ade20k.py (batch 32, 40k iterations, AdamW lr 2e-4, wd
# 1e-4, poly 0.9, 512x512) with FPN in [64, 128, 256, 512] and the
# variant's ImageNet drop path. No FasterNet result was published.
from mmengine.config import read_base

with read_base():
    from .semfpn_fasternet_s_ade20k import *

pretrained = 'checkpoints/fasternet_t1-epoch.291-val_acc1.76.2180.pth'
model.backbone.update(arch='t1', drop_path_rate=None,
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [64, 128, 256, 512]
