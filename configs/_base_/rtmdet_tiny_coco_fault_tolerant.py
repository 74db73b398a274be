# mmdet's RTMDet-tiny (rtmdet_tiny_coco.py) with the project's fault tolerance
# (fault_tolerance.py): its hooks after RTMDet's own, and images that can no
# longer be read skipped by the first step of both training pipelines (the
# mosaic one and the one PipelineSwitchHook puts in for the last epochs). The
# RTMDet-tiny-sized configs inherit this and put their backbone in.
from mmengine.config import read_base

with read_base():
    from .rtmdet_tiny_coco import *
    from .fault_tolerance import *

custom_hooks = [*custom_hooks, *fault_hooks]
train_dataloader.dataset.pipeline[0] = dict(skipping_loader, backend_args=backend_args)
custom_hooks[1].switch_pipeline[0] = dict(skipping_loader,  # PipelineSwitchHook
                                         backend_args=backend_args)
