"""The end-to-end demo: make toy data, evaluate the untrained model, train,
evaluate again and draw predictions on validation images.

Runs on CPU in minutes; ``tools/demo.py`` is its command line.
"""
import json
import os.path as osp
import time
from typing import Dict, Optional

import numpy as np

from .runner import build_runner, load_config

DEMOS = {
    'det': dict(config='configs/maskrcnn_fasternet_t0_toycoco.py', data='data/toy_coco',
                metric='coco/bbox_mAP', extra=('coco/segm_mAP', 'coco/bbox_mAP_50')),
    'seg': dict(config='configs/semfpn_fasternet_t0_toyade.py', data='data/toy_ade',
                metric='mIoU', extra=('mAcc', 'aAcc')),
}


def make_data(task: str, root: str) -> None:
    """Write the toy dataset of ``task`` under ``root`` (no-op when present)."""
    if task == 'det':
        from .toydata import make_toy_coco
        make_toy_coco(root)
    else:
        from .toydata import make_toy_ade
        make_toy_ade(root)


def _prediction_grid(runner, cfg, task: str, out_file: str, num: int = 6) -> None:
    """Draw ground truth (left) and prediction (right) for ``num`` validation
    images and tile them into one PNG."""
    import cv2
    import mmcv
    model = runner.model
    model.cfg = cfg
    model.eval()
    dataset = runner.val_dataloader.dataset
    if task == 'det':
        from mmdet.apis import inference_detector
        from mmdet.visualization import DetLocalVisualizer as Visualizer
        infer = inference_detector
    else:
        from mmseg.apis import inference_model
        from mmseg.visualization import SegLocalVisualizer as Visualizer
        infer = inference_model
    visualizer = Visualizer(name=f'demo_{task}_{time.time()}')
    visualizer.dataset_meta = dataset.metainfo
    tiles = []
    for index in range(min(num, len(dataset))):
        info = dataset.get_data_info(index)
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        result = infer(model, info['img_path'])
        if task == 'det':
            visualizer.add_datasample('pred', image, result, draw_gt=False, pred_score_thr=0.5)
        else:
            visualizer.add_datasample('pred', image, result, draw_gt=False, with_labels=False)
        pred = visualizer.get_image()
        tiles.append(np.concatenate([image, pred], axis=1))
    rows = [np.concatenate(tiles[i:i + 2], axis=1) for i in range(0, len(tiles) - 1, 2)]
    grid = np.concatenate(rows, axis=0)
    grid = cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    mmcv.imwrite(grid[..., ::-1], out_file)


def run_demo(task: str, work_dir: str, cfg_options: Optional[dict] = None) -> Dict[str, float]:
    """Train the toy config of ``task`` ('det' or 'seg') and return the
    untrained and trained metrics; writes ``predictions.png`` and
    ``demo_result.json`` into ``work_dir``."""
    spec = DEMOS[task]
    make_data(task, spec['data'])
    cfg = load_config(spec['config'], cfg_options, work_dir)
    runner = build_runner(cfg)
    runner.model.init_weights()
    untrained = runner.val()
    start = time.time()
    runner.train()
    minutes = (time.time() - start) / 60
    trained = runner.val()
    picture = osp.join(work_dir, 'predictions.png')
    _prediction_grid(runner, cfg, task, picture)
    keys = (spec['metric'], *spec['extra'])
    result = dict(task=task, config=spec['config'], train_minutes=round(minutes, 2),
                  untrained={k: untrained.get(k) for k in keys},
                  trained={k: trained.get(k) for k in keys}, picture=picture)
    with open(osp.join(work_dir, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result
