# The model zoo's CPU latencies: every whole model of the zoo tables, timed
# round-robin at its config's own test size (Mask R-CNN: a 1333x800 image,
# Semantic FPN: 512x512, RTMDet: 640x640), random weights, with mmdet's
# RTMDet-tiny, -s and -m beside the FasterNet RTMDets. RTMDet's candidates
# are capped as in the realtime suite (1000 per level into NMS, 100 out):
# mmdet's 30000 per level would time NMS on boxes that a trained model's
# score threshold drops.
#   python tools/benchmark.py --suite configs/suites/model_zoo.py --iters 5 --warmup 1
from fasternet_dense.benchmark.suites import REALTIME_CAPS as rtmdet_caps

suite = [
    dict(config=f'maskrcnn_fasternet_{arch}_coco', whole_model=True,
         label=f'Mask R-CNN FasterNet-{arch.upper()}')
    for arch in ('t0', 't1', 't2', 's', 'm', 'l')
] + [
    dict(config=f'semfpn_fasternet_{arch}_ade20k', whole_model=True,
         label=f'Semantic FPN FasterNet-{arch.upper()}')
    for arch in ('t0', 't1', 't2', 's', 'm', 'l')
] + [
    dict(config=f'rtmdet_fasternet_{arch}_coco', whole_model=True,
         label=f'RTMDet FasterNet-{arch.upper()}', cfg_options=rtmdet_caps)
    for arch in ('t0', 't1', 't2')
] + [
    dict(config=f'mmdet::rtmdet/rtmdet_{size}_8xb32-300e_coco.py', whole_model=True,
         label=f'RTMDet-{size}', cfg_options=rtmdet_caps)
    for size in ('tiny', 's', 'm')
]
