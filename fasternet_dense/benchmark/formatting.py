"""Text reports of the inference tools' results: the benchmark table, the
complexity table and the ONNX export summary. The tools print these; the
numbers come from :mod:`~fasternet_dense.benchmark.benchmark`,
:mod:`~fasternet_dense.benchmark.complexity` and :mod:`~fasternet_dense.deploy.export`.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

# Whole-model Semantic FPN peers on ADE20K at 512x512 (params M, GFLOPs, mIoU).
SEG_PEERS = (('ResNet-18', 16, 32, 32.9), ('PVT-Tiny', 17, 33, 35.7),
             ('PoolFormer-S12', 16, 31, 37.2), ('ResNet-50', 29, 46, 36.7),
             ('PVT-Small', 28, 45, 39.8), ('PoolFormer-S24', 23, 39, 40.3),
             ('ResNet-101', 48, 65, 38.8), ('PoolFormer-S36', 35, 48, 42.0),
             ('PVT-Medium', 48, 61, 41.6))
FLOPS_NOTE = """\
FLOPs count one multiply-add as one FLOP (mmengine's FlopAnalyzer, fvcore style):
convolutions, matrix products, norms and upsampling are counted; activations,
element-wise additions, pooling, NMS, RoI align and mask pasting are not.
Detection: the RoI box head runs on every RPN proposal (1000 here) and the mask
head on the first 100, as in the mmdet 2.x count behind the paper's 1280x800
figures; fewer proposals shrink the roi_head share. The same counter gives
259.8G for mmdet's Mask R-CNN R50 (the FasterNet paper lists 253G; every
detector here sits about 7G above its paper figure, all in the shared heads)
and 45.7G / 32.3G for Semantic FPN R50 / R18 (peers: 46G / 32G)."""


def format_benchmark(result: Dict[str, object]) -> str:
    """A table of the benchmark result: one row per model, then the ratio."""
    s = result['settings']
    lines = [f"{result['mode']} benchmark on {s['device']} ({result['machine']['cpu']}, "
             f"{s['threads']} threads), batch {s['batch_size']}, {s['iters']} iterations "
             f"after {s['warmup']} warm-up", f"input: {s['input']}", '']
    for m in result['models']:
        opts = [k for k in ('fuse', 'channels_last') if m[k]] + ([m['amp']] if m['amp'] else [])
        opts += [f'{k}={v}' for k, v in m['cfg_options'].items()]
        extra = f" checkpoint {m['checkpoint']}" if m['checkpoint'] else ''
        lines.append(f"{m['label']}: {m['config']} [{', '.join(opts) or 'plain'}]{extra}, "
                     f"{m['params'] / 1e6:.2f}M params")
    rates = all('gmacs' in m for m in result['models'])
    lines += ['', f"{'':2} {'median ms':>10} {'min':>9} {'max':>9} {'q1':>9} {'q3':>9} "
              f"{'img/s':>8}" + (f" {'GFLOPs':>8} {'GMAC/s':>7}" if rates else '')]
    for m in result['models']:
        lines.append(f"{m['label']:2} {m['median_ms']:10.2f} {m['min_ms']:9.2f} "
                     f"{m['max_ms']:9.2f} {m['q1_ms']:9.2f} {m['q3_ms']:9.2f} {m['fps']:8.2f}" +
                     (f" {m['flops'] / 1e9:8.2f} {m['gmacs']:7.1f}" if rates else ''))
    if 'ratio' in result:
        lines.append('')
        lines.append(f"ratio median B / median A = {result['ratio']:.3f} "
                     f"(A is {result['ratio']:.2f}x as fast as B)")
    if 'outputs' in result:
        o = result['outputs']
        lines.append(f"outputs: max |A - B| = {o['max_abs_diff']:.3g} (max |B| = "
                     f"{o['max_abs_ref']:.3g}, relative {o['relative']:.3g})")
    if 'reference' in result and rates:
        lines += ['', _reference_lines(result)]
    machine = result['machine']
    load = max(v for v in (machine.get('load_avg_1min_before'), machine['load_avg_1min'], 0)
               if v is not None)
    if machine['cpu_count'] and load > machine['cpu_count']:
        lines.append(f"warning: the machine was busy (1-min load {load:.1f} on "
                     f"{machine['cpu_count']} cores); multi-threaded timings suffer most, "
                     "compare the interleaved ratio or use --threads 1")
    for m in result['models']:
        if m.get('autocast'):
            lines.append(f"note: {m['label']}'s {m['amp']} autocast covers "
                         f"{', '.join(m['autocast'])}; its post-processing runs in fp32")
    lines += _candidates_lines(result['models'], 'note: ')
    return '\n'.join(lines)


def format_onnx_benchmark(result: Dict[str, object]) -> str:
    """A table of :func:`~fasternet_dense.benchmark.benchmark.benchmark_onnx`: the
    PyTorch model, then each ONNX file in each runtime and precision with its
    speed-up over it."""
    s, machine = result['settings'], result['machine']
    runtimes = ', '.join(f'{name} {machine[name]}' for name in ('onnxruntime', 'openvino')
                         if name in machine)
    width = max([32] + [len(m['label']) for m in result['models']])
    lines = [f"{result['kind']} of {osp.basename(result['config'])} on CPU ({machine['cpu']}, "
             f"{s['threads']} threads, torch {machine.get('torch', '?')}, {runtimes}), "
             f"{s['input']}, {s['iters']} rounds after {s['warmup']}, interleaved", '',
             f"{'model':<{width}} {'median ms':>10} {'q1':>9} {'q3':>9} {'speed-up':>9}"]
    for m in result['models']:
        speedup = f"{m['speedup']:9.2f}" if 'speedup' in m else f"{'1.00':>9}"
        lines.append(f"{m['label']:<{width}} {m['median_ms']:10.2f} {m['q1_ms']:9.2f} "
                     f"{m['q3_ms']:9.2f} {speedup}")
    lines.append('speed-up: PyTorch (batch norms folded, fast path) median / row median')
    return '\n'.join(lines)


def _candidates_lines(models, prefix: str = '') -> List[str]:
    """The line saying which score thresholds were set to 0
    (:func:`~fasternet_dense.apis.inference.fix_candidates`), if any were."""
    fixed = sorted({c for m in models for c in m.get('candidates', ())})
    if not fixed:
        return []
    return [f'{prefix}random weights, so every score threshold is 0 and each stage '
            'processes its full caps: ' + '; '.join(fixed)]


def _reference_lines(result: Dict[str, object]) -> str:
    """What the reference product rate says of the timings: each model's
    share of it, the least time its FLOPs need at it and, for two models,
    the most A could gain over B at that rate."""
    ref = result['reference']
    lines = [f"reference: {ref['what']} at {ref['gmacs']:.1f} G multiply-adds/s "
             '(GMAC/s counts one multiply-add per FLOP)']
    floors = []
    for m in result['models']:
        floor = m['flops'] / (ref['gmacs'] * 1e9) * 1000.0
        floors.append(floor)
        lines.append(f"{m['label']} runs at {100 * m['gmacs'] / ref['gmacs']:.0f}% of it; its "
                     f"FLOPs take {floor:.1f} ms at that rate")
    if len(floors) == 2:
        b = result['models'][1]
        lines.append(f"A running at the reference rate would be {b['median_ms'] / floors[0]:.2f}x "
                     'as fast as B is now')
    return '\n'.join(lines)


def format_complexity(rows: Sequence[Dict[str, object]]) -> str:
    """One line per config: input, params and FLOPs of the model and backbone,
    and the FLOPs of each top-level part."""
    lines = [f"{'config':36} {'input HxW':>10} {'params M':>9} {'GFLOPs':>8} "
             f"{'backbone M':>10} {'backbone GFLOPs':>15}  parts (GFLOPs)"]
    for r in rows:
        parts = ', '.join(f'{k} {v / 1e9:.1f}' for k, v in r['by_module'].items()
                          if k != 'other' or v >= 5e7)
        if r['proposals'] is not None:
            parts += f"; {r['proposals']} proposals"
        flops = f"{r['flops'] / 1e9:8.1f}" if r['flops'] is not None else f"{'-':>8}"
        lines.append(f"{osp.basename(r['config']):36} {'%dx%d' % r['shape']:>10} "
                     f"{r['params'] / 1e6:9.2f} {flops} {r['backbone_params'] / 1e6:10.2f} "
                     f"{r['backbone_flops'] / 1e9:15.2f}  {parts}")
    return '\n'.join(lines)


def format_seg_peers() -> str:
    """The published Semantic FPN peers on ADE20K, for comparison with the
    segmentation rows of :func:`format_complexity`."""
    return ('Semantic FPN peers on ADE20K (whole model, 512x512, mmcv 1.x counter): ' +
            '; '.join(f'{n} {p}M/{g}G/{m} mIoU' for n, p, g, m in SEG_PEERS))


def _difference(c: Dict[str, object]) -> str:
    """One comparison of :func:`~fasternet_dense.deploy.export.export_onnx`: of
    tensors (relative difference) or of detections (counts, labels)."""
    if 'count' not in c:
        return (f"max abs diff {c['max_abs_diff']:.3g}, max abs ref {c['max_abs_ref']:.3g}, "
                f"relative {c['relative']:.3g}")
    if c['count'] != c['expected_count']:
        return f"{c['count']} detections against {c['expected_count']}"
    masks = f", mask probabilities within {c['mask_abs']:.2g}" if 'mask_abs' in c else ''
    return (f"{c['count']} detections, labels {'equal' if c['same_labels'] else 'differ'}, "
            f"boxes within {c['box_relative']:.2g} relative, scores within {c['score_abs']:.2g}"
            f"{masks}")


def format_export(result: Dict[str, object]) -> str:
    """A short report of :func:`export_onnx`'s result."""
    h, w = result['shape']
    lines = [f"{result.get('fp32_out', result['out'])}: "
             f"{result.get('kind', 'backbone' if result['backbone_only'] else 'segmentor')} of "
             f"{osp.basename(result['config'])} at {h}x{w} (HxW), fused, "
             f"{result['block_path']} block graph",
             f"file {result['onnx_bytes'] / 2**20:.2f} MiB, fp32 weights "
             f"{result['weight_bytes'] / 2**20:.2f} MiB (ratio {result['size_ratio']:.3f})",
             'nodes: ' + ', '.join(f'{k} {v}' for k, v in sorted(result['ops'].items()))]
    for key, what in (('vs_exported', 'fused PyTorch module'),
                      ('vs_reference', 'unfused PyTorch model (split/concatenate path)')):
        if key in result:
            lines.append(f"onnxruntime vs {what}: {_difference(result[key])}")
    if 'int8_out' in result:
        c = result['int8_vs_fp32']
        compared = (f"cosine {c['cosine']:.5f}, relative {c['relative']:.3g}" if 'cosine' in c
                    else _difference(c))
        lines += [f"{result['int8_out']}: int8 QDQ ({result['weights']} weights "
                  f"{'per channel' if result['per_channel'] else 'per tensor'}, "
                  f"{result['activations']} activations, {result['calibration_method']} "
                  f"calibration on {result['calibration']}), file "
                  f"{result['int8_bytes'] / 2**20:.2f} MiB",
                  f"int8 vs fp32 onnxruntime: {compared}" +
                  (f"; left in fp32: {', '.join(result['excluded'])}" if result['excluded']
                   else '')]
    return '\n'.join(lines)


def _opt(value, fmt: str) -> str:
    """``value`` formatted, or ``-`` in the same width when there is none."""
    width = ''.join(c for c in fmt.split('.')[0] if c.isdigit())
    return format('-', f'>{width}') if value is None else format(value, fmt)


PAPER_HEADS = {'gpu_fps': 'paper img/s', 'gpu_ms': 'paper ms', 'cpu_ms': 'paper ms',
               None: 'paper'}
PAPER_COLUMNS = {'gpu_fps': 'GPU throughput', 'gpu_ms': 'GPU latency', 'cpu_ms': 'CPU latency'}


def paper_rate(paper: dict, column: Optional[str]):
    """The paper's achieved GFLOP/s for a row in ``column`` (see
    :func:`~fasternet_dense.benchmark.suite_runner.paper_column`): Table 1 states it,
    Tables 3 and 4 give it from FLOPs and throughput or latency."""
    if not paper or column is None:
        return None
    stated = paper.get('gpu_gflops' if column.startswith('gpu') else 'cpu_gflops')
    if stated:
        return stated
    if not paper.get(column):
        return None
    if column == 'gpu_fps':
        return paper['flops'] * paper['gpu_fps']
    return paper['flops'] / (paper[column] / 1000.0)


def format_suite(result: Dict[str, object]) -> str:
    """A suite's table: per row parameters, FLOPs, median latency (with the
    quartiles), throughput, achieved GFLOP/s, the paper's figure and the
    speed-up of the row's FasterNet pair over it, measured and in the paper."""
    s, machine = result['settings'], result['machine']
    column = s['paper_column']
    lines = [f"suite {result['suite']} on {s['device']} ({machine.get('gpu') or machine['cpu']}, "
             f"{s['threads']} threads, torch {machine['torch']}), batch {s['batch_size']}, "
             f"medians of {s['iters']} rounds after {s['warmup']} warm-up, batch norms "
             f"{'folded' if s['fuse'] else 'kept'}, {result['date']}", '',
             f"{'model':34} {'params M':>8} {'GFLOPs':>8} {'median ms':>10} {'q1-q3 ms':>15} "
             f"{'min ms':>9} {'img/s':>9} {'GFLOP/s':>8} {PAPER_HEADS[column]:>11} "
             f"{'paper GFLOP/s':>13} "
             f"{'pair':22} {'speed-up':>8} {'paper':>6}"]
    group = None
    for r in result['rows']:
        if r['group'] != group and group is not None:
            lines.append('')
        group = r['group']
        paper = r['paper'] or {}
        pair = '' if r['pair'] in (None, r['label']) else r['pair'].split(' @ ')[0]
        speedup = '' if not pair else _opt(r['pair_speedup'], '.2f')
        paper_speedup = '' if not pair else _opt(r['paper_pair_speedup'], '.2f')
        lines.append(f"{r['label'][:34]:34} {r['params'] / 1e6:8.2f} {r['flops'] / 1e9:8.3f} "
                     f"{r['median_ms']:10.2f} {r['q1_ms']:7.2f}-{r['q3_ms']:<7.2f} "
                     f"{r['min_ms']:9.2f} {r['fps']:9.1f} {r['gflops_per_s']:8.1f} "
                     f"{_opt(paper.get(column), '11g')} "
                     f"{_opt(paper_rate(paper, column), '13.1f')} {pair[:22]:22} "
                     f"{speedup:>8} {paper_speedup:>6}")
    inputs = list(dict.fromkeys(r.get('input', '') for r in result['rows']))
    notes = sorted({f"{r['label']}: {r['note']}" for r in result['rows'] if r['note']})
    notes += [f"{r['label']}: {r['fold']}" for r in result['rows']
              if r['fold'] not in ('folded', 'off')]
    paper_note = (f"the same ratio from the paper's {PAPER_COLUMNS[column]} column."
                  if column else 'the paper has no figure for this device class.')
    lines += ['', 'speed-up: median of the row / median of its pair (the FasterNet row, or '
              f'PConv on the same map): above 1, the pair is faster. paper: {paper_note}',
              "min ms: the fastest round (the paper reports each network's best run; "
              'medians and quartiles say how steady the machine was).',
              'GFLOPs: multiply-adds of one image, counted before batch norms are folded'
              + (' (whole models: backbone, neck and heads without post-processing).'
                 if any(r.get('kind') == 'model' for r in result['rows']) else '.'),
              'input: ' + '; '.join(i for i in inputs if i)]
    lines += _candidates_lines(result['rows'])
    lines += notes
    return '\n'.join(lines)


__all__ = ['format_suite', 'paper_rate', 'format_benchmark', 'format_complexity',
           'format_seg_peers', 'format_export', 'FLOPS_NOTE', 'SEG_PEERS']
