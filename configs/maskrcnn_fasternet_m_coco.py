# Mask R-CNN + FPN, FasterNet-M backbone, COCO, 1x: the S recipe with AdamW
# lr 1e-4, drop path 0.2, FPN in [144, 288, 576, 1152].
# Paper: 71.2M params, 344G FLOPs, 43.0 box AP, 39.1 mask AP.
from mmengine.config import read_base

with read_base():
    from .maskrcnn_fasternet_s_coco import *

pretrained = 'checkpoints/fasternet_m-epoch.291-val_acc1.82.9620.pth'
model.backbone.update(arch='m', drop_path_rate=0.2,
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model.neck.in_channels = [144, 288, 576, 1152]
optim_wrapper.optimizer.lr = 1e-4
