"""The end-to-end demo: make toy data, evaluate the untrained model, train,
evaluate again and draw predictions on validation images.

Runs on CPU in minutes; ``tools/demo.py`` is its command line. The console
gets a few lines per stage and a progress line every tenth of the training;
mmengine's full log stays in the work dir.
"""
import contextlib
import io
import json
import logging
import os.path as osp
import sys
import time
import warnings
from typing import Callable, Dict, Optional

import numpy as np
from mmengine.hooks import Hook

from ..apis.config import build_runner, load_config

DEMOS = {
    'det': dict(config='maskrcnn_fasternet_t0_toycoco', data='data/toy_coco',
                metric='coco/bbox_mAP', extra=('coco/segm_mAP', 'coco/bbox_mAP_50')),
    'seg': dict(config='semfpn_fasternet_t0_toyade', data='data/toy_ade',
                metric='mIoU', extra=('mAcc', 'aAcc')),
    'rtmdet': dict(config='rtmdet_fasternet_t0_toycoco', data='data/toy_coco',
                   metric='coco/bbox_mAP', extra=('coco/bbox_mAP_50', 'coco/bbox_mAP_75')),
}
# What ``--task all`` (the main job) runs.
MAIN_TASKS = ('det', 'seg')


def _kind(task: str) -> str:
    """'det' for the detection demos, 'seg' for segmentation."""
    return 'seg' if task == 'seg' else 'det'


def make_data(task: str, root: str) -> None:
    """Write the toy dataset of ``task`` under ``root`` (no-op when present)."""
    if _kind(task) == 'det':
        from ..datasets.toydata import make_toy_coco
        make_toy_coco(root)
    else:
        from ..datasets.toydata import make_toy_ade
        make_toy_ade(root)


SCORE_THRESHOLD = 0.5  # detections drawn in the demo picture


def _caption(text: str, width: int, height: int = 28) -> np.ndarray:
    """A white strip of ``width`` pixels with ``text`` in black."""
    import cv2
    strip = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(strip, text, (8, height - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                cv2.LINE_AA)
    return strip


def _legend(classes, palette, width: int, height: int = 28) -> np.ndarray:
    """A strip with one colour swatch and name per class."""
    import cv2
    strip = np.full((height, width, 3), 255, np.uint8)
    x = 8
    for name, colour in zip(classes, palette):
        cv2.rectangle(strip, (x, 6), (x + 16, height - 6), tuple(int(c) for c in colour), -1)
        cv2.putText(strip, name, (x + 22, height - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
        x += 30 + 10 * len(name)
    return strip


def _prediction_grid(runner, cfg, task: str, out_file: str, num: int = 6) -> None:
    """Draw ``num`` validation images, one row each, and save them as one PNG.

    Detection rows: ground truth | prediction (detections with score >=
    :data:`SCORE_THRESHOLD`). Segmentation rows: image | ground truth |
    prediction, with a class-colour legend.
    """
    import mmcv
    model = runner.model
    model.cfg = cfg
    model.eval()
    dataset = runner.val_dataloader.dataset
    task = _kind(task)
    if task == 'det':
        from mmdet.apis import inference_detector as infer
        from mmdet.visualization import DetLocalVisualizer as Visualizer
    else:
        from mmseg.apis import inference_model as infer
        from mmseg.visualization import SegLocalVisualizer as Visualizer
    visualizer = Visualizer(name=f'demo_{task}_{time.time()}')
    visualizer.dataset_meta = dataset.metainfo
    rows = []
    for index in range(min(num, len(dataset))):
        info = dataset.get_data_info(index)
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        result = infer(model, info['img_path'])
        truth = dataset[index]['data_samples']
        if task == 'det':
            gt = truth.gt_instances
            if hasattr(gt.bboxes, 'tensor'):  # box type -> plain tensor for drawing
                gt.bboxes = gt.bboxes.tensor
            result.gt_instances = gt
            visualizer.add_datasample('pred', image, result, draw_gt=True, draw_pred=True,
                                      pred_score_thr=SCORE_THRESHOLD)
            rows.append(visualizer.get_image())
        else:
            result.gt_sem_seg = truth.gt_sem_seg
            panels = [image]
            # mmseg's visualizer keeps only the last panel it drew, so one at a time.
            for draw_gt in (True, False):
                visualizer.add_datasample('seg', image, result, draw_gt=draw_gt,
                                          draw_pred=not draw_gt, with_labels=False)
                panels.append(visualizer.get_image())
            rows.append(np.concatenate(panels, axis=1))
    grid = np.concatenate(rows, axis=0)
    grid = np.repeat(np.repeat(grid, 2, axis=0), 2, axis=1)  # 2x, pixels kept sharp
    width = grid.shape[1]
    if task == 'det':
        header = [_caption(f'ground truth | prediction (score >= {SCORE_THRESHOLD})', width)]
    else:
        meta = dataset.metainfo
        header = [_caption('image | ground truth | prediction', width),
                  _legend(meta['classes'], meta['palette'], width)]
    mmcv.imwrite(np.concatenate([*header, grid], axis=0)[..., ::-1], out_file)


class Progress(Hook):
    """A line on the console every tenth of the training: iteration, loss,
    time so far (mmengine's own log lines go to the log file only)."""
    priority = 'VERY_LOW'

    def __init__(self, say: Callable[[str], None], parts: int = 10):
        self.say, self.parts, self.start = say, parts, None

    def before_train(self, runner) -> None:
        self.start = time.time()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        done, total = runner.iter + 1, runner.max_iters
        if done % max(1, total // self.parts) and done != total:
            return
        loss = (outputs or {}).get('loss', float('nan'))
        loss = float(loss.detach() if hasattr(loss, 'detach') else loss)
        seconds = int(time.time() - self.start)
        self.say(f'  iteration {done:>5}/{total}  loss {loss:.3f}  '
                 f'{seconds // 60}:{seconds % 60:02d} elapsed')


def quiet_runner(cfg):
    """The config's runner with mmengine's console output left to errors (its
    info lines and warnings, hook tables and progress still go to the run's
    log file): built while the console stream of its logger points nowhere,
    then pointed back at it at error level."""
    with contextlib.redirect_stdout(io.StringIO()):
        runner = build_runner(cfg)
    for handler in runner.logger.handlers:
        if not isinstance(handler, logging.FileHandler) and \
                isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stdout)
            handler.setLevel(logging.ERROR)
    return runner


def log_file(runner) -> str:
    """The text log mmengine's runner writes (``LOG_DIR/TIMESTAMP.log``)."""
    return osp.join(runner.log_dir, f'{runner.timestamp}.log')


def _to_log(runner, step: Callable[[], dict]) -> dict:
    """``step()`` with what it prints (pycocotools' evaluation tables) added
    to the run's log file instead of the console; returns its result."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = step()
    with open(log_file(runner), 'a') as f:
        f.write(printed.getvalue())
    return result


def _metrics(metrics: dict, keys) -> str:
    return ', '.join(f'{k.split("/")[-1]} {metrics[k]:.3f}' for k in keys if k in metrics)


def run_demo(task: str, work_dir: str, cfg_options: Optional[dict] = None,
             say: Callable[[str], None] = print) -> Dict[str, float]:
    """Train the toy config of ``task`` (a :data:`DEMOS` key) and return the
    untrained and trained metrics; writes ``predictions.png`` and
    ``demo_result.json`` into ``work_dir``. ``say`` gets a few lines per
    stage; mmengine's log goes to the log file in ``work_dir``."""
    spec = DEMOS[task]
    keys = (spec['metric'], *spec['extra'])
    console, print_to_log = sys.stdout, say

    def say(line: str) -> None:  # to the console even while prints go to the log
        with contextlib.redirect_stdout(console):
            print_to_log(line)

    caught, runner = [], None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('default')  # each warning once per place, as Python shows them
            say(f'{task}: toy data in {spec["data"]}, config configs/{spec["config"]}.py')
            make_data(task, spec['data'])
            cfg = load_config(spec['config'], cfg_options, work_dir)
            runner = quiet_runner(cfg)
            say(f'{task}: full log in {log_file(runner)}')
            runner.register_hook(Progress(say))
            runner.model.init_weights()
            untrained = _to_log(runner, runner.val)
            say(f'{task}: untrained: {_metrics(untrained, keys)}')
            say(f'{task}: training on CPU')
            start = time.time()
            _to_log(runner, runner.train)
            minutes = (time.time() - start) / 60
            trained = _to_log(runner, runner.val)
            say(f'{task}: trained in {minutes:.1f} min: {_metrics(trained, keys)}')
            picture = osp.join(work_dir, 'predictions.png')
            _prediction_grid(runner, cfg, task, picture)
    finally:
        if runner is not None and caught:  # the libraries' warnings: in the log, not on the console
            with open(log_file(runner), 'a') as f:
                f.writelines(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                             for w in caught)
    result = dict(task=task, config=spec['config'], seed=cfg.get('randomness', {}).get('seed'),
                  train_minutes=round(minutes, 2),
                  untrained={k: untrained.get(k) for k in keys},
                  trained={k: trained.get(k) for k in keys}, picture=picture)
    with open(osp.join(work_dir, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result
