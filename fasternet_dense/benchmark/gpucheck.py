"""The backbone's two eval paths on a GPU, and the report of a GPU check.

Run by ``scripts/gpu_check.sh`` (through ``tools/gpu_check.py``) on a machine
with a CUDA build of torch. The backbone results need only FasterNet itself
(mmcv's Python part, no compiled ops), so they can run while mmcv's CUDA ops
are still compiling:

- :func:`path_exactness`: the fast path (fused matrix products) against the
  reference path (split/conv/concatenate) in fp32 with TF32 off, and both
  under fp16 and bf16 autocast against the fp32 reference.
- :func:`path_throughput`: images per second of both paths at batch 32,
  224x224, batch norms folded, for each arch, precision and memory format,
  interleaved in one process.

:func:`write_report` turns the JSON files of a check into one markdown page.
"""
import copy
import glob
import json
import os.path as osp
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmengine.analysis import parameter_count
from ..apis.inference import AMP_DTYPES, autocast
from ..deploy.compare import output_difference
from ..models.backbones.fasternet import (ARCH_SETTINGS, FasterNet, use_fast_inference)
from ..utils.fileio import atomic_write_text
from .timing import device_sync, machine_info, summarize, time_interleaved

ARCHS = tuple(ARCH_SETTINGS)
# Largest relative error (max |out - ref| / max |ref| over the four outputs)
# allowed against the fp32 reference path: fp32 is the same arithmetic in
# another order; fp16 keeps 11 significant bits and bf16 8, accumulated over
# up to 13 blocks of the deepest stage.
TOLERANCES = {'fp32': 1e-5, 'fp16': 1e-2, 'bf16': 5e-2}
# Precisions timed: fp32 with TF32 off (exact), fp32 with TF32 allowed in
# convolutions and matrix products, and autocast in fp16 and bf16.
PRECISIONS = ('fp32', 'tf32', 'fp16', 'bf16')
PATHS = ('fast', 'reference')
LAYOUTS = ('nchw', 'channels_last')


@contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Allow or forbid TF32 in cuDNN convolutions and cuBLAS matrix products
    within the block (torch's defaults: allowed in cuDNN, forbidden in
    cuBLAS, so the reference path's 1x1 convs would round where the fast
    path's products do not); the previous settings come back afterwards."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def random_backbone(arch: str, seed: int = 0) -> FasterNet:
    """FasterNet ``arch`` in eval mode with seeded random weights and random
    batch-norm statistics and affine parameters (so that folding them
    changes the weights), on CPU."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = FasterNet(arch)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)
    return model.eval()


def _precision(name: str):
    """``(autocast dtype name or None, TF32 allowed)`` of a precision."""
    return (name if name in AMP_DTYPES else None), name == 'tf32'


def path_exactness(device: str = 'cuda', archs: Sequence[str] = ARCHS, batch_size: int = 2,
                   shape: Sequence[int] = (224, 224), seed: int = 0) -> List[Dict[str, object]]:
    """Relative error of each path and precision against the fp32 reference
    path, per arch: one row per (arch, precision, path), with ``relative``,
    ``max_abs_diff``, ``tolerance`` and ``within``. The fp32 rows compare
    the fast path with the reference path at TF32 off; fp16 and bf16 rows
    run the path under autocast."""
    rows = []
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 3, *shape, generator=gen).to(device)
    for arch in archs:
        model = random_backbone(arch, seed).to(device)
        with tf32(False), torch.inference_mode():
            use_fast_inference(model, False)
            reference = model(x)
            for name in ('fp32', 'fp16', 'bf16'):
                amp, _ = _precision(name)
                for path in (('fast', ) if amp is None else PATHS):
                    use_fast_inference(model, path == 'fast')
                    with autocast(device, amp):
                        out = model(x)
                    diff = output_difference(out, reference)
                    rows.append(dict(arch=arch, precision=name, path=path,
                                     tolerance=TOLERANCES[name],
                                     within=diff['relative'] <= TOLERANCES[name], **diff))
    return rows


def _timed_step(model: nn.Module, x: torch.Tensor, device: str, amp: Optional[str]):

    def step(_):
        with autocast(device, amp):
            return model(x)

    return step


def path_throughput(device: str = 'cuda', archs: Sequence[str] = ARCHS, batch_size: int = 32,
                    shape: Sequence[int] = (224, 224), precisions: Sequence[str] = PRECISIONS,
                    layouts: Sequence[str] = LAYOUTS, iters: int = 20, warmup: int = 5,
                    seed: int = 0) -> Dict[str, object]:
    """Images per second of the fast and the reference path, batch norms
    folded, for each arch, precision and memory format; the two paths of one
    setting run interleaved (A B A B ...). Each row: ``arch``,
    ``precision``, ``layout``, ``params``, and per path the
    :func:`~fasternet_dense.benchmark.timing.summarize` numbers; ``fast_speedup`` is
    the reference path's median over the fast path's."""
    sync = device_sync(device)
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(batch_size, 3, *shape, generator=gen).to(device)
    rows = []
    for arch in archs:
        fast = random_backbone(arch, seed).switch_to_deploy().to(device)
        models = {'fast': fast, 'reference': use_fast_inference(copy.deepcopy(fast), False)}
        for layout in layouts:
            memory = torch.channels_last if layout == 'channels_last' else torch.contiguous_format
            x = base.contiguous(memory_format=memory)
            for model in models.values():
                model.to(memory_format=memory)
            for name in precisions:
                amp, allow_tf32 = _precision(name)
                steps = [_timed_step(models[p], x, device, amp) for p in PATHS]
                with tf32(allow_tf32), torch.inference_mode():
                    times = time_interleaved(steps, iters, warmup, sync)
                row = dict(arch=arch, precision=name, layout=layout, params=parameter_count(fast)[''])
                for path, t in zip(PATHS, times):
                    row[path] = dict(times_ms=t, **summarize(t, batch_size))
                row['fast_speedup'] = row['reference']['median_ms'] / row['fast']['median_ms']
                rows.append(row)
    return dict(settings=dict(device=device, batch_size=batch_size, shape=list(shape),
                              iters=iters, warmup=warmup, folded=True),
                machine=machine_info(device), rows=rows)


# Table 4's pairs timed on the GPU: each FasterNet against the ResNet of its size.
MASKRCNN_PAIRS = (('FasterNet-S', 'ResNet-50'), ('FasterNet-M', 'ResNet-101'),
                  ('FasterNet-L', 'ResNeXt101-64x4d'))


def maskrcnn_pairs(device: str = 'cuda', amps: Sequence[Optional[str]] = (None, 'fp16'),
                   iters: int = 20, warmup: int = 5, shape: Sequence[int] = (800, 1333),
                   pairs: Sequence[Sequence[str]] = MASKRCNN_PAIRS) -> List[Dict[str, object]]:
    """Whole ``test_step`` of each Mask R-CNN pair (FasterNet as model A, the
    peer as B, interleaved) on a synthetic ``shape`` image that the configs'
    test pipeline resizes to 1333x800, batch norms folded, score thresholds
    at 0, under each of ``amps`` (``None``: fp32):
    one :func:`~fasternet_dense.benchmark.benchmark.benchmark` result per pair and
    precision, with ``pair`` added."""
    # Imported here: the backbone results above run before mmcv's compiled
    # ops exist, and the whole models need them.
    from .benchmark import benchmark
    from .suites import COCO_MODELS
    results = []
    for ours, theirs in pairs:
        for amp in amps:
            res = benchmark(COCO_MODELS[ours][0], vs=COCO_MODELS[theirs][0], device=device,
                            fuse=True, amp=amp, shape=shape, iters=iters, warmup=warmup,
                            synthetic=True)
            res['pair'] = [ours, theirs]
            results.append(res)
    return results


# -------------------------------------------------------------------- report
def _load(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def exactness_lines(rows: List[dict]) -> List[str]:
    lines = ['| arch | precision | path | relative error | tolerance | within |',
             '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['arch']} | {r['precision']} | {r['path']} | {r['relative']:.2e} | "
                     f"{r['tolerance']:.0e} | {'yes' if r['within'] else '**no**'} |")
    return lines


def throughput_lines(result: dict) -> List[str]:
    s = result['settings']
    lines = [f"batch {s['batch_size']}, {s['shape'][0]}x{s['shape'][1]}, batch norms folded, "
             f"medians of {s['iters']} rounds after {s['warmup']}; img/s",
             '', '| arch | precision | layout | fast img/s | reference img/s | fast speed-up |',
             '|---|---|---|---|---|---|']
    for r in result['rows']:
        lines.append(f"| {r['arch']} | {r['precision']} | {r['layout']} | {r['fast']['fps']:.0f} "
                     f"| {r['reference']['fps']:.0f} | {r['fast_speedup']:.2f} |")
    return lines


def pairs_lines(results: List[dict]) -> List[str]:
    lines = ['| pair | precision | FasterNet median ms (q1-q3) | peer median ms (q1-q3) | '
             'FasterNet speed-up |', '|---|---|---|---|---|']
    for res in results:
        a, b = res['models']
        lines.append(f"| {' vs '.join(res['pair'])} | {a['amp'] or 'fp32'} | "
                     f"{a['median_ms']:.1f} ({a['q1_ms']:.1f}-{a['q3_ms']:.1f}) | "
                     f"{b['median_ms']:.1f} ({b['q1_ms']:.1f}-{b['q3_ms']:.1f}) | "
                     f"{res['ratio']:.2f} |")
    return lines


def write_report(folder: str, out: str) -> str:
    """One markdown page from the JSON files a GPU check left in ``folder``
    (``status.json``, ``backbone_exactness.json``, ``backbone_throughput.json``,
    ``maskrcnn.json``, ``suite_*.json``); sections whose file is missing say
    so. Written to ``out``; returns the text."""
    status = _load(osp.join(folder, 'status.json')) or {}
    parts = ['# GPU check', '']
    for key, value in status.items():
        parts.append(f'- {key}: {value}')
    exact = _load(osp.join(folder, 'backbone_exactness.json'))
    parts += ['', '## Fast path against the reference path', '']
    parts += exactness_lines(exact['rows']) if exact else ['not run']
    speed = _load(osp.join(folder, 'backbone_throughput.json'))
    parts += ['', '## Backbone throughput', '']
    parts += throughput_lines(speed) if speed else ['not run']
    models = _load(osp.join(folder, 'maskrcnn.json'))
    parts += ['', '## Mask R-CNN, whole test_step', '']
    parts += pairs_lines(models) if models else ['not run']
    for path in sorted(glob.glob(osp.join(folder, 'suite_*.json'))):
        suite = _load(path)
        parts += ['', f"## Suite {suite['suite']}", '', '| model | median ms | img/s |',
                  '|---|---|---|']
        parts += [f"| {r['label']} | {r['median_ms']:.2f} | {r['fps']:.0f} |"
                  for r in suite['rows'] if 'median_ms' in r]
    text = '\n'.join(parts) + '\n'
    atomic_write_text(text, out)
    return text


__all__ = ['ARCHS', 'TOLERANCES', 'PRECISIONS', 'PATHS', 'LAYOUTS', 'MASKRCNN_PAIRS', 'tf32',
           'random_backbone', 'path_exactness', 'path_throughput', 'maskrcnn_pairs',
           'exactness_lines', 'throughput_lines', 'pairs_lines', 'write_report']
