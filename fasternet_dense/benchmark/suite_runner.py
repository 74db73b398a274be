"""Times every network of a suite (:mod:`.suites`) round-robin in one process.

Protocol (the paper's, Table 1 and 3): batch 1 and one thread on CPU, batch
32 on GPU (whole models: batch 1, Table 4's latency); batch norms folded;
fp32; random weights. FLOPs are counted with the package's counter on the
inference architecture: after a model's own re-parameterisation
(MobileOne's ``switch_to_deploy``), with batch norms in place, as the
libraries count them; a whole model is counted on its ``tensor`` forward
(no post-processing) at the network input of the timed image. A whole
detector's score thresholds are set to 0 so that its post-processing load
does not depend on the random weights
(:func:`~fasternet_dense.apis.inference.fix_candidates`). Each round runs every
network once (A B C ... A B C ...), so a slow moment of a shared machine
touches all of them alike; the table reports medians.
"""
import copy
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.analysis import parameter_count
from mmengine.logging import MMLogger

from ..apis.inference import build_model, check_counts, deploy_model, fix_candidates, fuse_model
from ..deploy.compare import output_difference
from ..utils.errors import OptionError
from .batches import make_test_batches
from .complexity import backbone_flops, model_flops
from .timing import device_sync, machine_info, num_threads, summarize, time_interleaved

# Largest relative output change (max abs difference / max abs output) that
# folding batch norms may make; beyond it the unfolded network is timed.
FOLD_TOLERANCE = 1e-3


def _tensors(outputs) -> List[torch.Tensor]:
    """Every tensor in nested tuples, lists and dicts, in order."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (tuple, list)):
        return [t for o in outputs for t in _tensors(o)]
    return []


def _relative_change(before, after) -> float:
    diff = output_difference(_tensors(after), _tensors(before))
    return float('inf') if diff is None else diff['relative']


def _fold(model: nn.Module, outputs: Callable[[nn.Module], object]):
    """``(model, fold)``: the model with batch norms folded when that
    changes ``outputs(model)`` by at most :data:`FOLD_TOLERANCE`, else the
    model as it was and why."""
    with torch.no_grad():
        before = outputs(model)
        fused = fuse_model(copy.deepcopy(model), deploy=False)
        fused.eval()
        change = _relative_change(before, outputs(fused))
    if change <= FOLD_TOLERANCE:
        return fused, 'folded'
    return model, f'not folded: folding changed outputs by {change:.1e}'


def _checked_outputs(data: dict) -> Callable[[nn.Module], object]:
    """What folding a whole model is checked on: the tensor forward, or for
    a two-stage detector the features and RPN outputs (its RoI head input
    depends on NMS, which a rounding change may reorder)."""

    def outputs(model):
        if getattr(model, 'with_rpn', False):
            feats = model.extract_feat(data['inputs'])
            return feats, model.rpn_head(feats)
        return model._forward(data['inputs'], data['data_samples'])

    return outputs


def prepare_row(spec: dict, fuse: bool = True, batch_size: int = 1) -> Dict[str, object]:
    """Build one row's network, count it, fold its batch norms and make
    its input.

    Returns ``dict(model, params, flops, deploy, fold, input, candidates,
    call)``: ``flops`` of one image (multiply-adds); ``fold`` says whether
    batch norms were folded (``'folded'``, ``'off'``, or why not); ``input``
    describes the network input; ``candidates`` what
    :func:`~fasternet_dense.apis.inference.fix_candidates` fixed; ``call(model,
    device)`` gives the timed step (the input already on ``device``).
    """
    if spec.get('kind', 'backbone') == 'model':
        return _prepare_model(spec, fuse, batch_size)
    model = spec['build']()
    model.eval()
    params = parameter_count(model)['']
    deploy = ', '.join(deploy_model(model)) or None
    model.eval()
    x = torch.randn(1, *spec['shape'], generator=torch.Generator().manual_seed(0))
    flops = backbone_flops(model, x)
    fold = 'off'
    if fuse:
        model, fold = _fold(model, lambda m: m(x))
    batch = torch.randn(batch_size, *spec['shape'], generator=torch.Generator().manual_seed(0))

    def call(m, device):
        x = batch.to(device)
        return lambda _: m(x)

    return dict(model=model, params=params, flops=flops, deploy=deploy, fold=fold,
                input='x'.join(map(str, spec['shape'])), candidates=[], call=call)


def _prepare_model(spec: dict, fuse: bool, batch_size: int) -> Dict[str, object]:
    cfg = spec['build']()
    candidates = fix_candidates(cfg, keep=spec.get('cfg_keys', ()))
    model = build_model(cfg)
    params = parameter_count(model)['']
    deploy = ', '.join(deploy_model(model)) or None
    model.eval()
    shape = tuple(spec['shape']) or None
    batch = make_test_batches(cfg, batch_size, 1, shape, synthetic=True)[0][0]
    one = batch if batch_size == 1 else make_test_batches(cfg, 1, 1, shape, synthetic=True)[0][0]
    with torch.no_grad():
        data = model.data_preprocessor(one, False)
    flops = model_flops(model, data['inputs'], data['data_samples'])[0]
    fold = 'off'
    if fuse:
        model, fold = _fold(model, _checked_outputs(data))
    net = 'x'.join(map(str, data['inputs'].shape[-2:]))
    return dict(model=model, params=params, flops=flops, deploy=deploy, fold=fold,
                input=f'test_step, network input {net}', candidates=candidates,
                call=lambda m, device: (lambda _: m.test_step(batch)))


def _ratios(rows: List[dict], paper_column: Optional[str]) -> None:
    """Each row's speed-up of its pair over it (row median / pair median:
    above 1 means the pair, a FasterNet, is faster), and the paper's."""
    by_label = {r['label']: r for r in rows}
    for r in rows:
        pair = by_label.get(r['pair'])
        r['pair_speedup'] = None if pair is None else r['median_ms'] / pair['median_ms']
        r['paper_pair_speedup'] = None
        if pair is None or not r['paper'] or not pair['paper'] or paper_column is None:
            continue
        mine, theirs = r['paper'].get(paper_column), pair['paper'].get(paper_column)
        if mine and theirs:
            # latency columns: mine / theirs; throughput columns: theirs / mine
            r['paper_pair_speedup'] = (mine / theirs if paper_column.endswith('_ms')
                                       else theirs / mine)


def paper_column(rows: Sequence[dict], gpu: bool) -> Optional[str]:
    """The paper's column the rows are compared with: GPU throughput
    (Tables 1, 3) or latency (Table 4), or CPU latency; ``None`` when the
    paper has none for this device class."""
    for column in (('gpu_fps', 'gpu_ms') if gpu else ('cpu_ms', )):
        if any(r['paper'] and r['paper'].get(column) for r in rows):
            return column
    return None


def run_suite(name: str, rows: Sequence[dict], device: str = 'cpu',
              threads: Optional[int] = None, batch_size: Optional[int] = None,
              iters: int = 10, warmup: int = 2, fuse: bool = True,
              on_round: Optional[Callable[[Dict[str, object]], None]] = None
              ) -> Dict[str, object]:
    """Time ``rows`` (from :func:`~fasternet_dense.benchmark.suites.suite_rows`).

    Args:
        device: ``'cpu'`` or ``'cuda[:i]'``.
        threads: CPU threads (default 1 on CPU, the paper's protocol).
        batch_size: images per call (default 1 on CPU; on GPU 32, or 1
            when the suite has whole models).
        iters, warmup: timed and untimed rounds; every network runs once a
            round.
        fuse: fold batch norms (the paper's protocol).
        on_round: called after every timed round with the result so far
            (``rounds`` says how many are in it), e.g. to save it.

    Returns:
        ``dict(suite, date, settings, rounds, machine, wall_s, rows)``; each
        row has label, group, pair, note, kind, params, flops (one image), deploy, fold,
        input, candidates, ``times_ms``, the
        :func:`~fasternet_dense.benchmark.timing.summarize` numbers,
        ``gflops_per_s`` (multiply-adds), the paper's figures and
        ``pair_speedup`` / ``paper_pair_speedup``.
    """
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise OptionError('device', f'{{option}} {device} needs a CUDA GPU; none is available.')
    check_counts(iters=iters, warmup=warmup)
    gpu = device.startswith('cuda')
    whole = any(r.get('kind') == 'model' for r in rows)
    batch_size = batch_size or (32 if gpu and not whole else 1)
    threads = threads or (None if gpu else 1)
    logger = MMLogger.get_current_instance()
    start = time.time()
    with num_threads(threads):
        prepared = []
        for spec in rows:
            logger.info(f'suite {name}: building {spec["label"]}')
            prepared.append(dict(spec, **prepare_row(spec, fuse, batch_size)))
        steps = []
        for p in prepared:
            p['model'].to(device)
            steps.append(p['call'](p['model'], device))
        logger.info(f'suite {name}: {len(steps)} networks, {iters} rounds after {warmup} '
                    f'warm-up, batch {batch_size}, {torch.get_num_threads()} threads')

        def result(times: List[List[float]]) -> Dict[str, object]:
            machine = machine_info(device)
            out_rows = []
            for p, t in zip(prepared, times):
                r = {k: v for k, v in p.items() if k not in ('model', 'build', 'call')}
                r.update(times_ms=list(t), **summarize(t, batch_size))
                r['gflops_per_s'] = p['flops'] * batch_size / (r['median_ms'] / 1000.0) / 1e9
                out_rows.append(r)
            column = paper_column(out_rows, gpu)
            _ratios(out_rows, column)
            return dict(suite=name, date=time.strftime('%Y-%m-%d %H:%M:%S'),
                        settings=dict(device=device, batch_size=batch_size, iters=iters,
                                      warmup=warmup, threads=machine['torch_threads'],
                                      fuse=fuse, paper_column=column),
                        rounds=len(times[0]), machine=machine,
                        wall_s=time.time() - start, rows=out_rows)

        with torch.inference_mode():
            times = time_interleaved(
                steps, iters, warmup, device_sync(device),
                None if on_round is None else lambda t: on_round(result(t)))
        return result(times)


__all__ = ['FOLD_TOLERANCE', 'prepare_row', 'paper_column', 'run_suite']
