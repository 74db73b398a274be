# RTMDet-m on COCO: mmdet 3.3's `rtmdet/rtmdet_m_8xb32-300e_coco.py` as a
# Python-style config (RTMDet-l, narrower and shallower).
from mmengine.config import read_base

with read_base():
    from .rtmdet_l_coco import *

model.backbone.update(deepen_factor=0.67, widen_factor=0.75)
model.neck.update(in_channels=[192, 384, 768], out_channels=192, num_csp_blocks=2)
model.bbox_head.update(in_channels=192, feat_channels=192)
