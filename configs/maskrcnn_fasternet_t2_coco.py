# Mask R-CNN + FPN, FasterNet-T2 backbone, COCO, 1x, for light use.
# No published result backs this config: the paper trained only S, M and L on
# COCO. It keeps the S recipe (AdamW lr 2e-4, wd 1e-4, 1x, batch 16) with the
# variant's ImageNet drop path and FPN in [96, 192, 384, 768].
from mmengine.config import read_base

with read_base():
    from .maskrcnn_fasternet_s_coco import *

pretrained = 'checkpoints/fasternet_t2-epoch.289-val_acc1.78.8860.pth'
model.backbone.update(arch='t2', drop_path_rate=None,
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [96, 192, 384, 768]
