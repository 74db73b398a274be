"""Small deterministic synthetic datasets for smoke-training the backbones."""
from .ade import TOY_ADE_CLASSES, make_toy_ade
from .coco import TOY_COCO_CLASSES, make_toy_coco
