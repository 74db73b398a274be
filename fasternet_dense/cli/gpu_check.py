"""Command line of ``tools/gpu_check.py``, the Python steps of
``scripts/gpu_check.sh``.

``backbone``: the fast path against the reference path (exactness, then
throughput); ``models``: the Mask R-CNN pairs, whole ``test_step``;
``report``: one markdown page from the JSON files of the results folder.
Each step writes its JSON into ``--out`` and prints its table; bad input ends
in one ``error: ...`` line and exit code 2.
"""
import argparse
import json
import os
import os.path as osp
from typing import Optional, Sequence

import torch

from ..apis.inference import check_counts
from ..benchmark.gpucheck import (ARCHS, LAYOUTS, PRECISIONS, exactness_lines, maskrcnn_pairs,
                                  pairs_lines, path_exactness, path_throughput, throughput_lines,
                                  write_report)
from ..utils.errors import ConfigError, option_flags, run_tool
from ..utils.fileio import atomic_write_text


def gpu_check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='GPU results of the toolkit, one step at a '
                                     'time (scripts/gpu_check.sh runs them in order).')
    parser.add_argument('step', choices=('backbone', 'models', 'report'))
    parser.add_argument('--out', required=True, help='results folder (JSON and markdown)')
    parser.add_argument('--device', default='cuda', help='cuda[:i]; cpu for a dry run')
    parser.add_argument('--archs', nargs='+', choices=ARCHS, default=list(ARCHS))
    parser.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                        help='backbone: default all four; models: default fp32 fp16 (tf32 '
                        'does not apply)')
    parser.add_argument('--layouts', nargs='+', choices=LAYOUTS, default=list(LAYOUTS))
    parser.add_argument('--batch-size', type=int, default=32, help='backbone throughput batch')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='backbone input (default 224 224); models: the synthetic raw image '
                        '(default 800 1333; the test pipeline resizes it to 1333x800)')
    parser.add_argument('--iters', type=int, default=20, help='timed rounds')
    parser.add_argument('--warmup', type=int, default=5, help='untimed rounds')
    return parser


def _write_json(result, folder: str, name: str) -> str:
    path = osp.join(folder, name)
    atomic_write_text(json.dumps(result, indent=1, default=str), path)
    return path


def _gpu_check(argv: Optional[Sequence[str]]) -> None:
    args = gpu_check_parser().parse_args(argv)
    timed = args.step != 'report'
    if timed and args.device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(f'--device {args.device} needs a CUDA GPU and a CUDA build of torch; '
                          'none is available (use --device cpu for a dry run).')
    check_counts(batch_size=args.batch_size, iters=args.iters, warmup=args.warmup)
    os.makedirs(args.out, exist_ok=True)
    if args.step == 'backbone':
        shape = args.shape or (224, 224)
        rows = path_exactness(args.device, args.archs, shape=shape)
        _write_json(dict(device=args.device, rows=rows), args.out, 'backbone_exactness.json')
        print('\n'.join(exactness_lines(rows)) + '\n')
        speed = path_throughput(args.device, args.archs, args.batch_size, shape,
                                args.precisions or PRECISIONS, args.layouts, args.iters,
                                args.warmup)
        _write_json(speed, args.out, 'backbone_throughput.json')
        print('\n'.join(throughput_lines(speed)))
        failed = [f"{r['arch']} {r['precision']} {r['path']}" for r in rows if not r['within']]
        if failed:
            raise ConfigError(f'fast path outside its tolerance: {", ".join(failed)} (see '
                              f'{osp.join(args.out, "backbone_exactness.json")}).')
    elif args.step == 'models':
        amps = [None if p == 'fp32' else p for p in args.precisions or ('fp32', 'fp16')
                if p != 'tf32']
        results = maskrcnn_pairs(args.device, amps, iters=args.iters, warmup=args.warmup,
                                 shape=args.shape or (800, 1333))
        _write_json(results, args.out, 'maskrcnn.json')
        print('\n'.join(pairs_lines(results)))
    else:
        out = osp.join(args.out, 'gpu_report.md')
        write_report(args.out, out)
        print(f'wrote {out}')


def gpu_check_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/gpu_check.py``: run one step; exit 2 on bad input or a fast
    path outside its tolerance."""
    return run_tool(_gpu_check, argv, option_flags(gpu_check_parser()))


__all__ = ['gpu_check_parser', 'gpu_check_main']
