# Mask R-CNN + FPN, FasterNet-T1 backbone, COCO, 1x, for light use.
# No published result backs this config: the paper trained only S, M and L on
# COCO. It keeps the S recipe (AdamW lr 2e-4, wd 1e-4, 1x, batch 16) with the
# variant's ImageNet drop path and FPN in [64, 128, 256, 512].
from mmengine.config import read_base

with read_base():
    from .maskrcnn_fasternet_s_coco import *

pretrained = 'checkpoints/fasternet_t1-epoch.291-val_acc1.76.2180.pth'
model.backbone.update(arch='t1', drop_path_rate=None,
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [64, 128, 256, 512]
