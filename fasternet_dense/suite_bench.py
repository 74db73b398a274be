"""Times every network of a suite (:mod:`.suites`) round-robin in one process.

Protocol (the paper's, Table 1 and 3): batch 1 and one thread on CPU, batch
32 on GPU; batch norms folded; fp32; random weights (no post-processing
here, so the weights do not change the work). FLOPs are counted with the
package's counter (:func:`~fasternet_dense.complexity.backbone_flops`) on the
inference architecture: after a model's own re-parameterisation
(MobileOne's ``switch_to_deploy``), with batch norms in place, as the
libraries count them. Each round runs every network once (A B C ... A B C
...), so a slow moment of a shared machine touches all of them alike; the
table reports medians.
"""
import copy
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from .backbone import count_parameters
from .complexity import backbone_flops
from .errors import ConfigError
from .inference import deploy_model, fuse_model, output_difference
from .timing import device_sync, machine_info, num_threads, summarize, time_interleaved

# Largest relative output change (max abs difference / max abs output) that
# folding batch norms may make; beyond it the unfolded network is timed.
FOLD_TOLERANCE = 1e-3


def _relative_change(before, after) -> float:
    diff = output_difference(after, before)
    return float('inf') if diff is None else diff['relative']


def prepare_row(spec: dict, fuse: bool = True) -> Dict[str, object]:
    """Build one row's network, count it and fold its batch norms.

    Returns ``dict(model, params, flops, deploy, fold)``: ``flops`` of one
    image (multiply-adds), ``fold`` says whether batch norms were folded
    (``'folded'``, ``'off'``, or why not).
    """
    model = spec['build']()
    model.eval()
    params = count_parameters(model)
    deploy = ', '.join(deploy_model(model)) or None
    model.eval()
    x = torch.randn(1, *spec['shape'], generator=torch.Generator().manual_seed(0))
    flops = backbone_flops(model, x)
    fold = 'off'
    if fuse:
        with torch.no_grad():
            before = model(x)
            fused = fuse_model(copy.deepcopy(model), deploy=False)
            fused.eval()
            change = _relative_change(before, fused(x))
        if change <= FOLD_TOLERANCE:
            model, fold = fused, 'folded'
        else:
            fold = f'not folded: folding changed outputs by {change:.1e}'
    return dict(model=model, params=params, flops=flops, deploy=deploy, fold=fold)


def _ratios(rows: List[dict], paper_column: str) -> None:
    """Each row's speed-up of its pair over it (row median / pair median:
    above 1 means the pair, a FasterNet, is faster), and the paper's."""
    by_label = {r['label']: r for r in rows}
    for r in rows:
        pair = by_label.get(r['pair'])
        r['pair_speedup'] = None if pair is None else r['median_ms'] / pair['median_ms']
        r['paper_pair_speedup'] = None
        if pair is None or not r['paper'] or not pair['paper']:
            continue
        mine, theirs = r['paper'].get(paper_column), pair['paper'].get(paper_column)
        if mine and theirs:
            # latency columns: mine / theirs; throughput columns: theirs / mine
            r['paper_pair_speedup'] = (mine / theirs if paper_column.endswith('_ms')
                                       else theirs / mine)


def run_suite(name: str, rows: Sequence[dict], device: str = 'cpu',
              threads: Optional[int] = None, batch_size: Optional[int] = None,
              iters: int = 10, warmup: int = 2, fuse: bool = True) -> Dict[str, object]:
    """Time ``rows`` (from :func:`~fasternet_dense.suites.suite_rows`).

    Args:
        device: ``'cpu'`` or ``'cuda[:i]'``.
        threads: CPU threads (default 1 on CPU, the paper's protocol).
        batch_size: images per call (default 1 on CPU, 32 on GPU).
        iters, warmup: timed and untimed rounds; every network runs once a
            round.
        fuse: fold batch norms (the paper's protocol).

    Returns:
        ``dict(suite, settings, machine, date, rows)``; each row has label,
        group, pair, note, params, flops (one image), deploy, fold,
        ``times_ms``, the :func:`~fasternet_dense.timing.summarize` numbers,
        ``gflops_per_s`` (multiply-adds), the paper's figures and
        ``pair_speedup`` / ``paper_pair_speedup``.
    """
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(f'--device {device} needs a CUDA GPU; none is available.')
    if iters < 1 or warmup < 0:
        raise ConfigError('--iters must be >= 1 and --warmup >= 0.')
    gpu = device.startswith('cuda')
    batch_size = batch_size or (32 if gpu else 1)
    threads = threads or (None if gpu else 1)
    logger = MMLogger.get_current_instance()
    start = time.time()
    with num_threads(threads):
        prepared = []
        for spec in rows:
            logger.info(f'suite {name}: building {spec["label"]}')
            prepared.append(dict(spec, **prepare_row(spec, fuse)))
        gen = torch.Generator().manual_seed(0)
        steps = []
        for p in prepared:
            p['model'].to(device)
            x = torch.randn(batch_size, *p['shape'], generator=gen).to(device)
            steps.append(lambda _, model=p['model'], x=x: model(x))
        logger.info(f'suite {name}: {len(steps)} networks, {iters} rounds after {warmup} '
                    f'warm-up, batch {batch_size}, {torch.get_num_threads()} threads')
        with torch.inference_mode():
            times = time_interleaved(steps, iters, warmup, device_sync(device))
        machine = machine_info(device)
    out_rows = []
    for p, t in zip(prepared, times):
        r = {k: v for k, v in p.items() if k not in ('model', 'build')}
        r.update(times_ms=t, **summarize(t, batch_size))
        r['gflops_per_s'] = p['flops'] * batch_size / (r['median_ms'] / 1000.0) / 1e9
        out_rows.append(r)
    paper_column = 'gpu_fps' if gpu else 'cpu_ms'
    _ratios(out_rows, paper_column)
    return dict(suite=name, date=time.strftime('%Y-%m-%d %H:%M:%S'),
                settings=dict(device=device, batch_size=batch_size, iters=iters,
                              warmup=warmup, threads=machine['torch_threads'], fuse=fuse,
                              paper_column=paper_column),
                machine=machine, wall_s=time.time() - start, rows=out_rows)


__all__ = ['FOLD_TOLERANCE', 'prepare_row', 'run_suite']
