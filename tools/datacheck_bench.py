"""Data checks at full size: python tools/datacheck_bench.py [--data DIR] [options].

Writes a COCO train2017-sized and an ADE20K-training-sized set (once, about
2 minutes and 1.8 GB) and times the training data check of the project's Mask
R-CNN and Semantic FPN configs on them: serial without a cache (the
baseline), on all cores without a cache (cold) and with the cache (warm).
"""
import argparse
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.benchmark.datacheck_bench import format_report, run_bench, write_report
from fasternet_dense.datasets.toydata.fullsize import (
    ADE_TRAIN_SAMPLES, COCO_TRAIN_ANNOTATIONS, COCO_TRAIN_IMAGES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='data/fullsize',
                        help='where the generated sets are (kept between runs)')
    parser.add_argument('--work-dir', default='work_dirs/datacheck_bench',
                        help='where the checks keep their cache')
    parser.add_argument('--datasets', nargs='+', choices=['coco', 'ade'], default=['coco', 'ade'])
    parser.add_argument('--serial-runs', type=int, default=1,
                        help='runs of the baseline (0: none)')
    parser.add_argument('--cold-runs', type=int, default=3)
    parser.add_argument('--warm-runs', type=int, default=5)
    parser.add_argument('--workers', type=int, help='processes (default: one per core)')
    parser.add_argument('--coco-images', type=int, default=COCO_TRAIN_IMAGES)
    parser.add_argument('--coco-annotations', type=int, default=COCO_TRAIN_ANNOTATIONS)
    parser.add_argument('--ade-samples', type=int, default=ADE_TRAIN_SAMPLES)
    parser.add_argument('--json', help='also write the report (all times) to this file')
    args = parser.parse_args()
    if min(args.cold_runs, args.warm_runs) < 1 or args.serial_runs < 0:
        parser.error('--cold-runs and --warm-runs need at least 1, --serial-runs at least 0')
    report = run_bench(args.data, args.work_dir, args.datasets, args.serial_runs,
                       args.cold_runs, args.warm_runs, args.workers, args.coco_images,
                       args.coco_annotations, args.ade_samples)
    print(format_report(report))
    if args.json:
        write_report(report, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
