"""How long the data checks take at full size: ``tools/datacheck_bench.py``.

Writes (once) a COCO train2017-sized set and an ADE20K-training-sized one
(:mod:`fasternet_dense.datasets.toydata.fullsize`), points the project's Mask R-CNN
and Semantic FPN configs at them and times :func:`check_data` on their
training sets as a launch runs it, three ways, in one process:

* ``serial``: one process and no cache, the baseline;
* ``cold``: on all cores, with no cache in the work dir (a first launch);
* ``warm``: again, with the cache the previous run left (a resume or
  relaunch with nothing changed).

It prints medians (with min and max) and the ratios to the baseline. The
files were just written or read, so they are in the OS page cache: a first
read from a network file system adds its own time.
"""
import json
import os
import os.path as osp
import shutil
import statistics
import time
from typing import Callable, Dict, List, Optional

from ..apis.config import load_config
from ..datasets.datacheck.check import check_data
from ..datasets.datacheck.parallel import available_cores
from ..datasets.datacheck.report import OUTPUT_DIR
from ..datasets.toydata.fullsize import (ADE_TRAIN_SAMPLES, COCO_TRAIN_ANNOTATIONS,
                                         COCO_TRAIN_IMAGES, make_fullsize_ade, make_fullsize_coco)
from ..utils.fileio import atomic_write_text
from ..utils.tasks import task_registries
from .timing import load_average, machine_info

COCO_CONFIG = 'maskrcnn_fasternet_s_coco.py'
ADE_CONFIG = 'semfpn_fasternet_s_ade20k.py'
# What the check should take on a 2-core machine at full size (seconds).
GOALS = dict(cold=30.0, warm=3.0)


def _config(name: str, data_root: str, work_dir: str, **data_check):
    """The project config ``name`` reading its training set from ``data_root``."""
    return load_config(name, {'train_dataloader.dataset.data_root': data_root,
                              'data_check': data_check}, work_dir)


def _timed_runs(make_cfg: Callable, work_dir: str, runs: int, clear: bool,
                **data_check) -> List[float]:
    times = []
    for _ in range(runs):
        if clear:
            shutil.rmtree(osp.join(work_dir, OUTPUT_DIR), ignore_errors=True)
        cfg = make_cfg(work_dir=work_dir, **data_check)
        start = time.perf_counter()
        check_data(cfg, ('train_dataloader', ))
        times.append(time.perf_counter() - start)
    return times


def _stats(times: List[float]) -> Dict[str, float]:
    return dict(median_s=statistics.median(times), min_s=min(times), max_s=max(times),
                runs=times)


def bench_dataset(make_cfg: Callable, work_dir: str, serial_runs: int, cold_runs: int,
                  warm_runs: int, workers: Optional[int]) -> Dict[str, dict]:
    """Times of one dataset's check: serial, cold and warm."""
    out = {}
    if serial_runs:
        out['serial'] = _stats(_timed_runs(make_cfg, work_dir, serial_runs, True, workers=1,
                                           cache=False))
    out['cold'] = _stats(_timed_runs(make_cfg, work_dir, cold_runs, True, workers=workers))
    out['warm'] = _stats(_timed_runs(make_cfg, work_dir, warm_runs, False, workers=workers))
    return out


def _coco_classes() -> List[str]:
    return list(task_registries('mmdet').DATASETS.get('CocoDataset').METAINFO['classes'])


def run_bench(data_dir: str, work_dir: str, datasets=('coco', 'ade'), serial_runs: int = 1,
              cold_runs: int = 3, warm_runs: int = 5, workers: Optional[int] = None,
              coco_images: int = COCO_TRAIN_IMAGES,
              coco_annotations: int = COCO_TRAIN_ANNOTATIONS,
              ade_samples: int = ADE_TRAIN_SAMPLES, log: Callable[[str], None] = print) -> dict:
    """Generate what is missing, time each dataset's check, return the report."""
    task_registries('mmdet'), task_registries('mmseg')  # imports outside the timings
    report = dict(machine=machine_info('cpu'), cores=available_cores(),
                  load_before=load_average(), workers=workers, datasets={})
    if 'coco' in datasets:
        root = osp.join(data_dir, 'coco')
        start = time.perf_counter()
        made = make_fullsize_coco(root, coco_images, coco_annotations, classes=_coco_classes())
        log(f'COCO-sized set in {root} ({time.perf_counter() - start:.0f} s to write or find)')
        times = bench_dataset(lambda **kw: _config(COCO_CONFIG, made['root'] + '/', **kw),
                              osp.join(work_dir, 'coco'), serial_runs, cold_runs, warm_runs,
                              workers)
        report['datasets']['coco'] = dict(
            files=f'{coco_images} images, {coco_annotations} polygon annotations, '
            f'{os.path.getsize(made["ann_file"]) / 1e6:.0f} MB of JSON', **times)
    if 'ade' in datasets:
        root = osp.join(data_dir, 'ade')
        start = time.perf_counter()
        made = make_fullsize_ade(root, ade_samples)
        log(f'ADE20K-sized set in {root} ({time.perf_counter() - start:.0f} s to write or find)')
        times = bench_dataset(lambda **kw: _config(ADE_CONFIG, made['root'], **kw),
                              osp.join(work_dir, 'ade'), serial_runs, cold_runs, warm_runs,
                              workers)
        report['datasets']['ade'] = dict(
            files=f'{ade_samples} images and label maps', **times)
    report['load_after'] = load_average()
    return report


def format_report(report: dict) -> str:
    """The report as a table: medians (min-max) and ratios to the serial run."""
    machine = report['machine']
    load = [f'{v:.2f}' if v is not None else 'unknown'
            for v in (report['load_before'], report['load_after'])]
    lines = [f"data check of the training set, {machine.get('cpu', 'CPU')} "
             f"({report['cores']} cores), load {load[0]} before, {load[1]} after; "
             'medians (min-max) in seconds']
    header = f"{'dataset':<9} {'serial':>18} {'cold':>18} {'warm':>18}  speed-up cold, warm"
    lines += [header, '-' * len(header)]
    for name, found in report['datasets'].items():
        cells = []
        for kind in ('serial', 'cold', 'warm'):
            t = found.get(kind)
            cells.append(f"{t['median_s']:.2f} ({t['min_s']:.2f}-{t['max_s']:.2f})" if t else
                         'not run')
        ratios = ''
        if 'serial' in found:
            serial = found['serial']['median_s']
            ratios = (f"{serial / found['cold']['median_s']:.1f}x, "
                      f"{serial / found['warm']['median_s']:.0f}x")
        lines.append(f'{name:<9} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18}  {ratios}')
        lines.append(f"          ({found['files']}; goals: cold <= {GOALS['cold']:.0f} s, "
                     f"warm <= {GOALS['warm']:.0f} s)")
    return '\n'.join(lines)


def write_report(report: dict, path: str) -> None:
    atomic_write_text(json.dumps(report, indent=1), path)
