"""Inference speed and complexity of detectors, segmentors and their backbones.

:func:`benchmark` times either a backbone on random tensors or a whole model's
``test_step`` (data preprocessor, backbone, neck, heads, NMS, mask pasting or
logit resizing) on prepared test batches, optionally for two models run
interleaved (A B A B ...) in one process. :func:`complexity` counts parameters
and FLOPs (one multiply-add is one FLOP) of a backbone and its whole model.
``tools/benchmark.py`` and ``tools/get_flops.py`` are thin command lines over
these functions.

Models are built from the config without running ``init_weights``, so no
pretrained file is needed; a checkpoint is loaded only when one is given.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import time
from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from .backbone import FasterNet, reference_forward
from .errors import ConfigError, MissingFileError, run_tool
from .preflight import leaf_datasets

# Network input of the FLOP counts: the paper counts Mask R-CNN at 1280x800,
# the Semantic FPN peers at 512x512. (H, W).
FLOPS_SHAPES = {'mmdet': (800, 1280), 'mmseg': (512, 512)}
# Raw synthetic image of the whole-model benchmark: the detection test size
# (1333x800 fits the (1333, 800) resize unchanged) and a 512x512 crop. (H, W).
BENCHMARK_SHAPES = {'mmdet': (800, 1333), 'mmseg': (512, 512)}
BACKBONE_SHAPE = (224, 224)
# Side of the square matrix product timed as the reference rate (--peak).
REFERENCE_SIZE = 2048
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
AMP_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


# ------------------------------------------------------------------ building
def check_shape(shape: Optional[Sequence[int]], minimum: int = 32) -> Optional[Tuple[int, int]]:
    """Validate an ``(H, W)`` pair; ``None`` passes through."""
    if shape is None:
        return None
    shape = tuple(shape)
    if len(shape) != 2 or not all(isinstance(s, int) and s >= minimum for s in shape):
        raise ConfigError(f'--shape takes two integers H W, each >= {minimum}; got '
                          f'{" ".join(map(str, shape))}.')
    return shape


def task_of(cfg: Config) -> str:
    """``'mmdet'`` or ``'mmseg'`` from the config's default scope."""
    scope = cfg.get('default_scope')
    if scope not in ('mmdet', 'mmseg'):
        raise ConfigError(f"Config has default_scope={scope!r}; speed tools handle 'mmdet' "
                          "and 'mmseg' configs.")
    return scope


def _task_models(scope: str):
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return MODELS


def resolve_config_path(path: str) -> str:
    """``mmdet::x.py`` / ``mmseg::x.py`` -> the installed package's config file;
    other paths are returned unchanged."""
    if '::' not in path:
        return path
    package, rel = path.split('::', 1)
    from mmengine.utils import get_installed_path, is_installed
    if not is_installed(package):
        raise ConfigError(f'Config {path}: package {package} is not installed.')
    return osp.join(get_installed_path(package), '.mim', 'configs', rel)


def load_model_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read ``path`` (a file, or ``mmdet::``/``mmseg::`` + a config of that
    package) with custom imports and overrides applied, for inference."""
    from .cli import load_config
    cfg = load_config(resolve_config_path(path), cfg_options)
    task_of(cfg)
    return cfg


def build_model(cfg: Config, checkpoint: Optional[str] = None, device: str = 'cpu',
                seed: int = 0) -> nn.Module:
    """Build ``cfg.model`` in eval mode on ``device``.

    ``init_weights`` is not called, so backbones keep their seeded random
    initial weights and never look for their pretrained file; ``checkpoint``,
    when given, is loaded into the whole model.
    """
    scope = task_of(cfg)
    registry = _task_models(scope)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(copy.deepcopy(cfg.model))
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise MissingFileError(f'Checkpoint {checkpoint} not found.')
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', logger='current')
    model.to(device).eval()
    return model


def fuse_model(module: nn.Module) -> nn.Module:
    """Fold batch norms into convolutions for inference, in place.

    FasterNet uses its own :meth:`~fasternet_dense.FasterNet.fuse`; every remaining
    conv followed by a batch norm (ResNet, neck or head ConvModules) goes
    through mmcv's ``fuse_conv_bn``.
    """
    from mmcv.cnn import fuse_conv_bn

    for sub in list(module.modules()):
        if isinstance(sub, FasterNet):
            sub.fuse()
    return fuse_conv_bn(module)


def _channels_last_hook(module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])


def prepare_model(model: nn.Module, fuse: bool = False, channels_last: bool = False) -> nn.Module:
    """Apply the inference options to ``model`` (in place) and return it."""
    model.eval()
    if fuse:
        fuse_model(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        backbone = getattr(model, 'backbone', model)
        # The data preprocessor emits NCHW; the backbone converts its input.
        backbone.register_forward_pre_hook(_channels_last_hook)
    model.eval()  # some train() overrides (mmdet's ResNet) return None
    return model


def _same_layout(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)


# ---------------------------------------------------------------------- data
def find_test_images(cfg: Config, limit: int) -> Tuple[List[str], Optional[str]]:
    """Up to ``limit`` image files of the config's test set (sorted by name)
    and their folder; an empty list when the folder does not exist."""
    dataset = next(leaf_datasets(cfg.test_dataloader.dataset))
    prefix = dataset.get('data_prefix', {}) or {}
    folder = prefix.get('img') or prefix.get('img_path') or ''
    folder = osp.join(dataset.get('data_root', '') or '', folder)
    if not folder or not osp.isdir(folder):
        return [], folder or None
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    return [osp.join(folder, n) for n in names[:limit]], folder


def _test_pipeline(cfg: Config, from_array: bool) -> List[dict]:
    pipeline = []
    for step in copy.deepcopy(cfg.test_dataloader.dataset.pipeline):
        kind = step['type'].split('.')[-1] if isinstance(step['type'], str) else ''
        if 'LoadAnnotations' in kind:
            continue  # timing needs no ground truth
        if kind == 'LoadImageFromFile' and from_array:
            step = dict(type='LoadImageFromNDArray')
        pipeline.append(step)
    return pipeline


def synthetic_image(shape: Tuple[int, int], seed: int = 0) -> np.ndarray:
    """A ``(H, W, 3)`` uint8 BGR image: smooth colour blobs plus noise, so
    that resizing and the network see natural-looking statistics."""
    rng = np.random.default_rng(seed)
    h, w = shape
    coarse = rng.integers(0, 256, size=(max(h // 64, 2), max(w // 64, 2), 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    img += rng.normal(0, 12, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_test_batches(cfg: Config, batch_size: int, num_batches: int,
                      shape: Optional[Tuple[int, int]] = None,
                      synthetic: bool = False) -> Tuple[List[dict], str]:
    """Test batches for ``model.test_step`` built with the config's own test
    pipeline (annotation loading dropped).

    Real images of the config's test set are used when the folder exists and
    ``synthetic`` is false; otherwise a synthetic image of ``shape`` (H, W).
    Detection batches hold consecutive images; segmentation batches repeat
    one image, since mmseg's test step needs equal sizes in a batch.

    Returns the batches and a one-line description of the input.
    """
    from mmengine.dataset import Compose, pseudo_collate
    scope = task_of(cfg)
    files, folder = ([], None) if synthetic else find_test_images(
        cfg, batch_size * num_batches if scope == 'mmdet' else num_batches)
    with DefaultScope.overwrite_default_scope(scope):
        pipeline = Compose(_test_pipeline(cfg, from_array=not files))
        if files:
            if shape is not None:
                MMLogger.get_current_instance().warning(
                    f'Timing the real test images in {folder}; --shape applies to synthetic '
                    'images only (add --synthetic to time those).')
            samples = [pipeline(dict(img_path=f, img_id=i, seg_map_path=None,
                                     reduce_zero_label=False, seg_fields=[]))
                       for i, f in enumerate(files)]
            source = f'{len(files)} real images from {folder}'
        else:
            shape = shape or BENCHMARK_SHAPES[scope]
            samples = [pipeline(dict(img=synthetic_image(shape), img_id=0, seg_fields=[],
                                     reduce_zero_label=False))]
            source = f'synthetic {shape[0]}x{shape[1]} (HxW) image'
    if scope == 'mmseg':
        groups = [[s] * batch_size for s in samples]
    else:
        groups = [[samples[(b * batch_size + i) % len(samples)] for i in range(batch_size)]
                  for b in range(max(1, min(num_batches, -(-len(samples) // batch_size))))]
    batches = [pseudo_collate(copy.deepcopy(g)) for g in groups]
    net = tuple(batches[0]['inputs'][0].shape[-2:])
    return batches, f'{source}; first network input {net[0]}x{net[1]} before padding'


# -------------------------------------------------------------------- timing
def summarize(times_ms: Sequence[float], batch_size: int) -> Dict[str, float]:
    """Median, min, max, quartiles, mean (ms per iteration) and images/s."""
    times = sorted(times_ms)
    if len(times) > 1:
        q1, _, q3 = statistics.quantiles(times, n=4, method='inclusive')
    else:
        q1 = q3 = times[0]
    median = statistics.median(times)
    return dict(median_ms=median, min_ms=times[0], max_ms=times[-1], q1_ms=q1, q3_ms=q3,
                iqr_ms=q3 - q1, mean_ms=statistics.fmean(times),
                fps=batch_size * 1000.0 / median)


def time_interleaved(steps: Sequence[Callable[[int], object]], iters: int, warmup: int,
                     sync: Callable[[], None] = lambda: None) -> List[List[float]]:
    """Run ``steps`` in turn (A B A B ...): ``warmup`` untimed rounds, then
    ``iters`` timed ones. Each step gets the round index. Returns per-step
    wall times in ms."""
    for i in range(warmup):
        for step in steps:
            step(i)
    sync()
    times: List[List[float]] = [[] for _ in steps]
    for i in range(iters):
        for k, step in enumerate(steps):
            sync()
            start = time.perf_counter()
            step(i)
            sync()
            times[k].append((time.perf_counter() - start) * 1000.0)
    return times


def machine_info(device: str = 'cpu') -> Dict[str, object]:
    """CPU model, core count, torch version and threads, and the GPU name."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, cpu_count=os.cpu_count(), load_avg_1min=_load_average(),
                torch=torch.__version__,
                torch_threads=torch.get_num_threads(), python=platform.python_version(),
                platform=platform.platform(), device=device)
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
        info['cuda'] = torch.version.cuda
    return info


def _load_average() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def output_difference(outputs, references) -> Optional[Dict[str, float]]:
    """``max |out - ref|`` over all outputs, ``max |ref|`` and their ratio
    (the relative error that the exactness and export tolerances bound).

    Each side is a tensor or array, or a tuple / list of them; ``None`` when
    the two differ in count or shapes.
    """
    outs, refs = ([torch.as_tensor(t) for t in (v if isinstance(v, (tuple, list)) else [v])]
                  for v in (outputs, references))
    if len(outs) != len(refs) or any(o.shape != r.shape for o, r in zip(outs, refs)):
        return None
    diff = max((o.float() - r.float()).abs().max().item() for o, r in zip(outs, refs))
    ref = max(r.float().abs().max().item() for r in refs)
    return dict(max_abs_diff=diff, max_abs_ref=ref, relative=diff / ref if ref else diff)


def _autocast(device: str, amp: Optional[str]):
    if amp is None:
        return nullcontext()
    return torch.autocast(device_type=device.split(':')[0], dtype=AMP_DTYPES[amp])


def _score_threshold_off(cfg: Config, cfg_options: Optional[dict]) -> bool:
    """With random weights every RoI score sits below mmdet's 0.05 threshold
    and the mask head never runs; use threshold 0 so each image yields
    ``max_per_img`` detections, the head's full workload."""
    rcnn = cfg.model.get('test_cfg', {}).get('rcnn')
    keys = [k for k in (cfg_options or {}) if k.endswith('score_thr')]
    if not rcnn or 'score_thr' not in rcnn or keys:
        return False
    rcnn['score_thr'] = 0.0
    return True


@contextmanager
def _threads(num: Optional[int]):
    old = torch.get_num_threads()
    if num:
        torch.set_num_threads(num)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def backbone_flops(backbone: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one ``backbone(x)`` call, counted as :func:`complexity`
    counts them (FasterNet on its split/conv/concatenate path, then left as
    it was)."""
    with reference_forward(backbone), torch.no_grad():
        return _count(backbone, (x, ))[0]


def matmul_rate(device: str = 'cpu', dtype: torch.dtype = torch.float32, size: int = 2048,
                iters: int = 5) -> float:
    """Median rate, in multiply-adds per second, of a ``size``-cubed matrix
    product on ``device``: the reference for how close a model's convolutions
    and products come to what the machine does at its best."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device, dtype)
    b = torch.randn(size, size, generator=gen).to(device, dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith('cuda') else (
        lambda: None)
    [times] = time_interleaved([lambda _: torch.mm(a, b, out=out)], iters, warmup=2, sync=sync)
    return size**3 / (statistics.median(times) / 1000.0)


def benchmark(config: str,
              checkpoint: Optional[str] = None,
              cfg_options: Optional[dict] = None,
              vs: Optional[str] = None,
              vs_checkpoint: Optional[str] = None,
              vs_cfg_options: Optional[dict] = None,
              vs_plain: bool = False,
              device: str = 'cpu',
              batch_size: int = 1,
              shape: Optional[Sequence[int]] = None,
              iters: int = 50,
              warmup: int = 10,
              fuse: bool = False,
              amp: Optional[str] = None,
              channels_last: bool = False,
              backbone_only: bool = False,
              synthetic: bool = False,
              threads: Optional[int] = None,
              max_images: int = 16,
              peak: bool = False) -> Dict[str, object]:
    """Time one model, or two interleaved (A = ``config``, B = ``vs``).

    Args:
        config, checkpoint, cfg_options: model A.
        vs, vs_checkpoint, vs_cfg_options: model B (``vs`` may equal
            ``config``, e.g. with ``model.backbone.fast_inference=False``).
        vs_plain: run B as the plain fp32 model, without ``fuse``,
            ``channels_last`` and ``amp``.
        shape: ``(H, W)``; backbone mode: the random input (default 224x224);
            whole-model mode: the synthetic raw image (default 800x1333 for
            detection, 512x512 for segmentation), used when the test set's
            images are absent or ``synthetic`` is true.
        iters, warmup: timed and untimed iterations per model.
        threads: ``torch.set_num_threads`` for the run (default: torch's).
        peak: also time a large matrix product (:func:`matmul_rate`) in the
            same run, in A's dtype, as the reference rate (``reference``).

    Returns:
        A dict with ``settings``, ``machine``, ``models`` (one entry per model:
        config, options, parameter count, ``times_ms`` and :func:`summarize`
        numbers) and, for two models, ``ratio`` = median B / median A (A's
        speedup over B) and, in backbone mode with equal output shapes,
        ``outputs`` (max abs difference between A's and B's outputs). In
        backbone mode each model also has ``flops`` (one forward, counted as
        :func:`complexity` does) and ``gmacs`` (G multiply-adds per second at
        its median time).
    """
    logger = MMLogger.get_current_instance()
    shape = check_shape(shape)
    if batch_size < 1 or iters < 1 or warmup < 0:
        raise ConfigError('--batch-size and --iters must be >= 1 and --warmup >= 0.')
    if amp is not None and amp not in AMP_DTYPES:
        raise ConfigError(f'--amp takes {" or ".join(AMP_DTYPES)}; got {amp}.')
    if peak and not backbone_only:
        raise ConfigError('--peak compares FLOP rates and needs --backbone-only.')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ConfigError(f'--device {device} needs a CUDA GPU; none is available.')
    on_gpu = device.startswith('cuda')
    sync = (lambda: torch.cuda.synchronize(device)) if on_gpu else (lambda: None)

    specs = [dict(label='A', config=config, checkpoint=checkpoint, cfg_options=cfg_options or {},
                  fuse=fuse, channels_last=channels_last, amp=amp)]
    if vs is not None or vs_cfg_options:
        plain = dict(fuse=False, channels_last=False, amp=None) if vs_plain else dict(
            fuse=fuse, channels_last=channels_last, amp=amp)
        vs = vs or config
        if vs_checkpoint is None and osp.abspath(vs) == osp.abspath(config):
            vs_checkpoint = checkpoint
        specs.append(dict(label='B', config=vs, checkpoint=vs_checkpoint,
                          cfg_options=vs_cfg_options or {}, **plain))

    with _threads(threads):
        models, cfgs = [], []
        for spec in specs:
            cfg = load_model_config(spec['config'], spec['cfg_options'])
            spec['task'] = task_of(cfg)
            if not backbone_only and spec['checkpoint'] is None and spec['task'] == 'mmdet':
                spec['score_thr_zero'] = _score_threshold_off(cfg, spec['cfg_options'])
            model = build_model(cfg, spec['checkpoint'], device)
            if (models and spec['checkpoint'] is None and specs[0]['checkpoint'] is None
                    and _same_layout(models[0], model)):
                # Same architecture: give B exactly A's weights.
                model.load_state_dict(models[0].state_dict())
                spec['weights'] = 'copied from A'
            spec['params'] = sum(p.numel() for p in model.parameters())
            models.append(model)
            cfgs.append(cfg)
        runs = []
        for spec, model, cfg in zip(specs, models, cfgs):
            if backbone_only:
                model = model.backbone
                spec['params'] = sum(p.numel() for p in model.parameters())
            prepare_model(model, spec['fuse'], spec['channels_last'])
            runs.append(model)

        if backbone_only:
            h, w = shape or BACKBONE_SHAPE
            gen = torch.Generator().manual_seed(0)
            base = torch.randn(batch_size, 3, h, w, generator=gen).to(device)
            inputs = [base.contiguous(memory_format=torch.channels_last)
                      if s['channels_last'] else base for s in specs]
            source = f'random tensor {batch_size}x3x{h}x{w}'
            for spec, model, x in zip(specs, runs, inputs):
                spec['flops'] = backbone_flops(model, x)
            steps = [_backbone_step(m, x, device, s['amp']) for m, x, s in zip(runs, inputs, specs)]
        else:
            data, sources = [], []
            for cfg in cfgs:
                batches, src = make_test_batches(cfg, batch_size, min(iters, max_images), shape,
                                                 synthetic)
                data.append(batches)
                sources.append(src)
            source = ' | '.join(dict.fromkeys(sources))
            steps = [_model_step(m, d, device, s['amp']) for m, d, s in zip(runs, data, specs)]

        logger.info(f'benchmark: {len(specs)} model(s), {source}, {iters} iterations after '
                    f'{warmup} warm-up, {torch.get_num_threads()} threads')
        load_before = _load_average()
        with torch.inference_mode():
            times = time_interleaved(steps, iters, warmup, sync)
            outputs = None
            if backbone_only and len(runs) == 2:
                with _autocast(device, specs[0]['amp']):
                    out_a = runs[0](inputs[0])
                with _autocast(device, specs[1]['amp']):
                    out_b = runs[1](inputs[1])
                outputs = output_difference(out_a, out_b)
        reference = None
        if peak:
            dtype = AMP_DTYPES[specs[0]['amp']] if specs[0]['amp'] else torch.float32
            reference = dict(what=f'{REFERENCE_SIZE}^3 matrix product, {str(dtype)[6:]}',
                             gmacs=matmul_rate(device, dtype, REFERENCE_SIZE) / 1e9)
        machine = machine_info(device)
        machine['load_avg_1min_before'] = load_before

    result = dict(
        mode='backbone' if backbone_only else 'model',
        settings=dict(device=device, batch_size=batch_size, iters=iters, warmup=warmup,
                      input=source, threads=machine['torch_threads']),
        machine=machine,
        models=[dict(spec, times_ms=t, **summarize(t, batch_size))
                for spec, t in zip(specs, times)])
    for m in result['models']:
        if 'flops' in m:
            m['gmacs'] = m['flops'] / (m['median_ms'] / 1000.0) / 1e9
    if reference is not None:
        result['reference'] = reference
    if len(specs) == 2:
        result['ratio'] = result['models'][1]['median_ms'] / result['models'][0]['median_ms']
        if outputs is not None:
            result['outputs'] = outputs
    return result


def _backbone_step(backbone: nn.Module, x: torch.Tensor, device: str, amp: Optional[str]):

    def step(_):
        with _autocast(device, amp):
            return backbone(x)

    return step


def _model_step(model: nn.Module, batches: List[dict], device: str, amp: Optional[str]):

    def step(i):
        with _autocast(device, amp):
            return model.test_step(batches[i % len(batches)])

    return step


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
    if any(m.get('score_thr_zero') for m in result['models']):
        lines.append('note: random weights, so the RoI score threshold is 0 and every image '
                     'yields the full max_per_img detections for the mask head')
    return '\n'.join(lines)


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


# ---------------------------------------------------------------- complexity
class _TensorForward(nn.Module):
    """``inputs -> model._forward(inputs, data_samples)``: the raw head
    outputs without post-processing, for tracing."""

    def __init__(self, model: nn.Module, data_samples: list):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor):
        return self.model._forward(inputs, self.data_samples)


def _data_sample(scope: str, shape: Tuple[int, int]):
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                scale_factor=(1.0, 1.0))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return DetDataSample(metainfo=meta)
    from mmseg.structures import SegDataSample
    return SegDataSample(metainfo=meta)


def _count(module: nn.Module, inputs: tuple) -> Tuple[int, Dict[str, int]]:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    by_module = analyzer.by_module()
    return analyzer.total(), by_module


def complexity(config: str, shape: Optional[Sequence[int]] = None,
               cfg_options: Optional[dict] = None, whole_model: bool = True) -> Dict[str, object]:
    """Parameters and FLOPs of the backbone and of the whole model.

    FLOPs are counted by tracing (mmengine's ``FlopAnalyzer``, the counter
    behind ``get_model_complexity_info``): one multiply-add is one FLOP;
    convolutions, matrix products, norms and upsampling are counted,
    activations, additions and pooling are not. FasterNet runs its
    split/conv/concatenate path so that every product is a convolution.
    The whole model runs its ``tensor`` forward: backbone, neck and heads
    without post-processing; Mask R-CNN's box head sees every RPN proposal
    and its mask head the first 100.

    Args:
        shape: network input ``(H, W)``; default 800x1280 (detection) or
            512x512 (segmentation).
        whole_model: also count the whole model (else only the backbone).

    Returns:
        ``dict(config, task, shape, params, flops, backbone_params,
        backbone_flops, by_module, proposals)``; ``by_module`` maps each
        top-level part (backbone, neck, heads, ``other``) to its FLOPs; ``proposals`` is
        the number of RPN proposals (detection) or ``None``.
    """
    cfg = load_model_config(config, cfg_options)
    scope = task_of(cfg)
    shape = check_shape(shape) or FLOPS_SHAPES[scope]
    model = build_model(cfg)
    backbone = model.backbone
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, *shape, generator=gen)
    samples = [_data_sample(scope, shape)]
    flops, by_module, proposals = None, {}, None
    with reference_forward(model), torch.no_grad():
        backbone_count = backbone_flops(backbone, x)
        if whole_model:
            flops, by_module = _count(_TensorForward(model, samples), (x, ))
        if whole_model and scope == 'mmdet' and getattr(model, 'with_rpn', False):
            feats = model.extract_feat(x)
            proposals = len(model.rpn_head.predict(feats, samples, rescale=False)[0])
    parts = {name: by_module.get(f'model.{name}', 0) for name, _ in model.named_children()}
    if flops is not None and flops != sum(parts.values()):
        # Ops a part runs in code called as a method rather than a module
        # (e.g. the upsampling in a decode head's forward) count at the top.
        parts['other'] = flops - sum(parts.values())
    return dict(config=config, task=scope, shape=shape,
                params=sum(p.numel() for p in model.parameters()), flops=flops,
                backbone_params=sum(p.numel() for p in backbone.parameters()),
                backbone_flops=backbone_count,
                by_module={k: v for k, v in parts.items() if v}, proposals=proposals)


# ------------------------------------------------------------ command lines
CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
SEG_CONFIGS = tuple(
    osp.join(CONFIG_DIR, f'semfpn_fasternet_{arch}_ade20k.py')
    for arch in ('t0', 't1', 't2', 's', 'm', 'l'))
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


def benchmark_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Time a model\'s test_step (or its backbone) on CPU or GPU, optionally '
        'against a second model run interleaved in the same process.')
    parser.add_argument('config', help='config file of model A (mmdet::PATH and mmseg::PATH '
                        'name configs of the installed packages)')
    parser.add_argument('--checkpoint', help='weights of A (default: random)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides for A, e.g. model.backbone.fast_inference=False')
    parser.add_argument('--vs', nargs='?', const='', metavar='OTHER_CONFIG',
                        help='model B; without a value, A\'s config again (use with '
                        '--vs-cfg-options)')
    parser.add_argument('--vs-checkpoint', help='weights of B (default: A\'s for the same '
                        'config, else random; equal layouts get A\'s random weights)')
    parser.add_argument('--vs-cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides for B')
    parser.add_argument('--vs-plain', action='store_true', help='run B as the plain fp32 '
                        'model: no --fuse, --channels-last or --amp')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='backbone input (default 224 224) or synthetic image size '
                        '(default 800 1333 detection, 512 512 segmentation)')
    parser.add_argument('--iters', type=int, default=50, help='timed iterations per model')
    parser.add_argument('--warmup', type=int, default=10, help='untimed iterations per model')
    parser.add_argument('--fuse', action='store_true', help='fold batch norms into convs')
    parser.add_argument('--amp', choices=list(AMP_DTYPES), help='autocast dtype')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last weights and backbone input')
    parser.add_argument('--backbone-only', action='store_true',
                        help='time model.backbone on random tensors')
    parser.add_argument('--synthetic', action='store_true',
                        help='synthetic images even when the test set exists')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (default: torch\'s)')
    parser.add_argument('--peak', action='store_true', help='also time a large matrix '
                        'product as the reference rate and print what it bounds '
                        '(with --backbone-only)')
    parser.add_argument('--json', metavar='FILE', help='write all numbers and machine info')
    return parser


def _benchmark(argv: Optional[Sequence[str]]) -> None:
    args = benchmark_parser().parse_args(argv)
    vs = None if args.vs is None else (args.vs or args.config)
    result = benchmark(
        args.config, checkpoint=args.checkpoint, cfg_options=args.cfg_options, vs=vs,
        vs_checkpoint=args.vs_checkpoint, vs_cfg_options=args.vs_cfg_options,
        vs_plain=args.vs_plain, device=args.device, batch_size=args.batch_size,
        shape=args.shape, iters=args.iters, warmup=args.warmup, fuse=args.fuse, amp=args.amp,
        channels_last=args.channels_last, backbone_only=args.backbone_only,
        synthetic=args.synthetic, threads=args.threads, peak=args.peak)
    print(format_benchmark(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1, default=str)
        print(f'wrote {args.json}')


def benchmark_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/benchmark.py``: print the timing table; exit 2 on bad input."""
    return run_tool(_benchmark, argv)


def flops_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of the backbone and the whole model.')
    parser.add_argument('configs', nargs='*', metavar='CONFIG',
                        help='config file(s); mmdet::PATH and mmseg::PATH work too')
    parser.add_argument('--all-seg', action='store_true', help='the six '
                        'semfpn_fasternet_*_ade20k.py configs, with the published peers')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='network input (default 800 1280 detection, 512 512 segmentation)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser


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


def _flops(argv: Optional[Sequence[str]]) -> None:
    args = flops_parser().parse_args(argv)
    configs = list(args.configs) + (list(SEG_CONFIGS) if args.all_seg else [])
    if not configs:
        raise ConfigError('get_flops needs a CONFIG or --all-seg.')
    rows = [complexity(c, args.shape, args.cfg_options) for c in configs]
    print(format_complexity(rows))
    if any(r['task'] == 'mmseg' for r in rows):
        print('\nSemantic FPN peers on ADE20K (whole model, 512x512, mmcv 1.x counter): ' +
              '; '.join(f'{n} {p}M/{g}G/{m} mIoU' for n, p, g, m in SEG_PEERS))
    print('\n' + FLOPS_NOTE)


def flops_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/get_flops.py``: print the complexity table; exit 2 on bad input."""
    return run_tool(_flops, argv)


__all__ = ['benchmark', 'format_benchmark', 'complexity', 'build_model', 'load_model_config',
           'prepare_model', 'fuse_model', 'make_test_batches', 'summarize', 'time_interleaved',
           'machine_info', 'output_difference', 'check_shape', 'benchmark_main', 'flops_main',
           'backbone_flops', 'matmul_rate']
