"""Leaving bad samples out (``data_check.skip_bad=True``): a filtered copy
of the COCO annotation file, or for segmentation a list of the good sample
names, is written to ``<work_dir>/data_check/``, and every dataset entry
reading the same files (and a COCO evaluator reading the same annotation
file) is pointed at it."""
import json
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import Config

from ...utils.fileio import atomic_write_text
from .cache import CheckCache, file_stamp
from .coco import CocoCheck
from .report import output_path, warn
from .seg import SegCheck


def _redirect_evaluators(cfg: Config, original: str, new: str) -> None:
    """Point COCO evaluators that read ``original`` at ``new``."""
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        if not evaluators:
            continue
        for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
            if ev.get('ann_file') and osp.abspath(ev['ann_file']) == osp.abspath(original):
                ev['ann_file'] = new


def skip_coco_samples(cfg: Config, loader: str, datasets: Sequence[dict], result: CocoCheck,
                      ann_file: str, lines: List[str], work_dir: str,
                      cache: Optional[CheckCache] = None) -> List[str]:
    """Write ``result``'s good samples of ``ann_file`` and point ``datasets``
    (every entry reading that file) and COCO evaluators at them; log
    ``lines`` and what was left out as warnings. The filtered file a
    previous launch wrote for the same bad samples is kept when it is
    unchanged (``cache``), so the annotation file is not parsed again.

    Returns:
        The error lines when no image is left (nothing is changed then),
        else ``[]``.
    """
    new = output_path(work_dir, loader, ann_file, '.json')
    bad = [sorted(result.bad_images), sorted(result.bad_annotations)]
    written = cache.section('filtered') if cache is not None else {}
    stamp = file_stamp(new)
    if not (result.from_cache and stamp is not None and written.get('bad') == bad
            and written.get('stamp') == stamp):
        filtered = result.filtered()
        kept = len(filtered['images'])
        if kept:
            atomic_write_text(json.dumps(filtered, separators=(',', ':')), new)
        written.update(bad=bad, stamp=file_stamp(new), images=kept,
                       dropped=len(result.data['annotations']) - len(filtered['annotations']))
        if cache is not None:
            cache.save()
    if not written['images']:
        return [f'{loader}: no usable images left in {ann_file} after dropping bad '
                'samples'] + lines
    for dataset in datasets:
        dataset['ann_file'] = new
    _redirect_evaluators(cfg, ann_file, new)
    warn(lines, f'{loader}: data_check.skip_bad is set, so {len(result.bad_images)} '
         f'images and {written["dropped"]} annotations are left out; the dataset reads '
         f'{new} instead of {ann_file}.')
    return []


def skip_seg_samples(loader: str, datasets: Sequence[dict], result: SegCheck, img_dir: str,
                     source: str, lines: List[str], work_dir: str) -> List[str]:
    """Write the names of ``result``'s good samples as a sample list and
    point ``datasets`` (every entry reading these folders) at it; log
    ``lines`` and what was left out as warnings. ``source`` names the list
    (the image prefix).

    Returns:
        The error lines when no sample is left (nothing is changed then),
        else ``[]``.
    """
    good = [n for n in result.names if n not in result.bad]
    if not good:
        return [f'{loader}: no usable samples left in {img_dir} after dropping bad '
                'samples'] + lines
    new = output_path(work_dir, loader, source, '.txt')
    atomic_write_text(''.join(n + '\n' for n in good), new)
    for dataset in datasets:
        dataset['ann_file'] = new
    warn(lines, f'{loader}: data_check.skip_bad is set, so {len(result.bad)} of '
         f'{len(result.names)} samples are left out; the dataset reads the sample '
         f'list {new}.')
    return []
