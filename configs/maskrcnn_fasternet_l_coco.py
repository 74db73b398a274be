# Mask R-CNN + FPN, FasterNet-L backbone, COCO, 1x: the S recipe with AdamW
# lr 1e-4, drop path 0.3, FPN in [192, 384, 768, 1536].
# Paper: 110.9M params, 484G FLOPs, 44.0 box AP, 39.9 mask AP.
from mmengine.config import read_base

with read_base():
    from .maskrcnn_fasternet_s_coco import *

pretrained = 'checkpoints/fasternet_l-epoch.299-val_acc1.83.5060.pth'
model.backbone.update(arch='l', drop_path_rate=0.3,
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [192, 384, 768, 1536]
optim_wrapper.optimizer.lr = 1e-4
