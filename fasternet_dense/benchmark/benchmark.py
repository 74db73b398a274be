"""Inference speed of detectors, segmentors and their backbones.

:class:`Benchmark` times either a backbone on random tensors or a whole
model's ``test_step`` (data preprocessor, backbone, neck, heads, NMS, mask
pasting or logit resizing; under ``amp`` autocast covers the network and
the post-processing stays in fp32, see
:func:`~fasternet_dense.apis.inference.autocast_network`) on prepared test
batches, optionally for two
models run interleaved (A B A B ...) in one process. :func:`benchmark` is the
call with model A and model B given by config; ``tools/benchmark.py`` is its
command line.
"""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.analysis import parameter_count
from mmengine.config import Config
from mmengine.logging import MMLogger

from ..apis.config import load_config
from ..apis.inference import (AMP_DTYPES, amp_emulated, autocast, autocast_network,
                              build_model, check_counts, check_shape, fix_candidates,
                              prepare_model)
from ..deploy.compare import output_difference, same_layout
from ..utils.errors import ConfigError, OptionError
from ..utils.tasks import task_of
from .batches import make_test_batches
from .complexity import backbone_flops
from .timing import (REFERENCE_SIZE, device_sync, load_average, machine_info, matmul_rate,
                     num_threads, summarize, time_interleaved)

BACKBONE_SHAPE = (224, 224)


def model_spec(label: str, config: str, checkpoint: Optional[str] = None,
               cfg_options: Optional[dict] = None, fuse: bool = False,
               channels_last: bool = False, amp: Optional[str] = None) -> dict:
    """One model of a benchmark: its config, weights and inference options.
    The benchmark adds what it learns (task, parameters, timings) to it."""
    return dict(label=label, config=config, checkpoint=checkpoint,
                cfg_options=cfg_options or {}, fuse=fuse, channels_last=channels_last, amp=amp)


def _backbone_step(backbone: nn.Module, x: torch.Tensor, device: str,
                   amp: Optional[str]) -> Callable[[int], object]:

    def step(_):
        with autocast(device, amp):
            return backbone(x)

    return step


def _model_step(model: nn.Module, batches: List[dict]) -> Callable[[int], object]:

    def step(i):
        return model.test_step(batches[i % len(batches)])

    return step


class Benchmark:
    """Times one model, or two interleaved (A B A B ...) in one process.

    :meth:`run` sets the models up (:meth:`_init_models`) and their inputs
    (:meth:`_init_steps`), times them (:meth:`run_once`) and gathers the
    numbers (:meth:`summarize_runs`).

    Args:
        specs: one or two :func:`model_spec` dicts, A first.
        device: ``'cpu'`` or ``'cuda[:i]'``.
        shape: ``(H, W)``; backbone mode: the random input (default 224x224);
            whole-model mode: the synthetic raw image (default 800x1333 for
            detection, 512x512 for segmentation), used when the test set's
            images are absent or ``synthetic`` is true.
        iters, warmup: timed and untimed iterations per model.
        backbone_only: time ``model.backbone`` on random tensors.
        threads: ``torch.set_num_threads`` for the run (default: torch's).
        max_images: most distinct test images a whole model cycles through.
        peak: also time a large matrix product (:func:`matmul_rate`) in the
            same run, in A's dtype, as the reference rate (``reference``).
    """

    def __init__(self,
                 specs: Sequence[dict],
                 device: str = 'cpu',
                 batch_size: int = 1,
                 shape: Optional[Sequence[int]] = None,
                 iters: int = 50,
                 warmup: int = 10,
                 backbone_only: bool = False,
                 synthetic: bool = False,
                 threads: Optional[int] = None,
                 max_images: int = 16,
                 peak: bool = False):
        self.shape = check_shape(shape)
        check_counts(batch_size=batch_size, iters=iters, warmup=warmup)
        for spec in specs:
            if spec['amp'] is not None and spec['amp'] not in AMP_DTYPES:
                raise OptionError('amp', f'{{option}} takes {" or ".join(AMP_DTYPES)}; got '
                                  f'{spec["amp"]}.')
            emulated = spec['amp'] and amp_emulated(device, spec['amp'])
            if emulated:
                # A timing of emulated arithmetic says nothing about the dtype.
                raise OptionError('amp', f'{{option}} {spec["amp"]}: {emulated}; time without '
                                  '{option}, or on a machine that has them.')
        if peak and not backbone_only:
            raise OptionError('peak=True', '{option} compares FLOP rates of the backbone alone '
                              '(backbone_only).')
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise OptionError('device', f'{{option}} {device} needs a CUDA GPU; none is '
                              'available.')
        self.specs = [dict(spec) for spec in specs]
        self.device = device
        self.batch_size = batch_size
        self.iters = iters
        self.warmup = warmup
        self.backbone_only = backbone_only
        self.synthetic = synthetic
        self.threads = threads
        self.max_images = max_images
        self.peak = peak
        self.sync = device_sync(device)

    def run(self) -> Dict[str, object]:
        """Build, time and summarize; see :func:`benchmark` for the result."""
        logger = MMLogger.get_current_instance()
        with num_threads(self.threads):
            runs, cfgs = self._init_models()
            steps, inputs, source = self._init_steps(runs, cfgs)
            logger.info(f'benchmark: {len(self.specs)} model(s), {source}, {self.iters} '
                        f'iterations after {self.warmup} warm-up, {torch.get_num_threads()} '
                        'threads')
            load_before = load_average()
            times = self.run_once(steps)
            outputs = None
            if self.backbone_only and len(runs) == 2:
                outputs = self._output_difference(runs, inputs)
            reference = self._reference_rate() if self.peak else None
            machine = machine_info(self.device)
            machine['load_avg_1min_before'] = load_before
        return self.summarize_runs(times, source, machine, outputs, reference)

    def _init_models(self):
        """Build every model, then apply each one's inference options.

        All models are built before any is fused, so that B can take A's
        random weights when the two have the same layout. Returns the models
        to run (the backbones in backbone mode) and their configs.
        """
        models, cfgs = [], []
        for spec in self.specs:
            cfg = load_config(spec['config'], spec['cfg_options'])
            spec['task'] = task_of(cfg)
            if not self.backbone_only and spec['checkpoint'] is None and spec['task'] == 'mmdet':
                spec['candidates'] = fix_candidates(cfg, keep=list(spec['cfg_options']))
            model = build_model(cfg, spec['checkpoint'], self.device)
            if (models and spec['checkpoint'] is None and self.specs[0]['checkpoint'] is None
                    and same_layout(models[0], model)):
                # Same architecture: give B exactly A's weights.
                model.load_state_dict(models[0].state_dict())
                spec['weights'] = 'copied from A'
            spec['params'] = parameter_count(model)['']
            models.append(model)
            cfgs.append(cfg)
        runs = []
        for spec, model in zip(self.specs, models):
            if self.backbone_only:
                model = model.backbone
                spec['params'] = parameter_count(model)['']
            runs.append(prepare_model(model, spec['fuse'], spec['channels_last']))
            if spec['amp'] and not self.backbone_only:
                spec['autocast'] = autocast_network(model, spec['amp'], self.device)
        return runs, cfgs

    def _init_steps(self, runs: List[nn.Module], cfgs: List[Config]):
        """One step per model (a call the timer makes each round), the
        backbone inputs (``None`` for whole models) and a description of the
        input. In backbone mode each spec also gets its ``flops``."""
        if self.backbone_only:
            h, w = self.shape or BACKBONE_SHAPE
            gen = torch.Generator().manual_seed(0)
            base = torch.randn(self.batch_size, 3, h, w, generator=gen).to(self.device)
            inputs = [base.contiguous(memory_format=torch.channels_last)
                      if s['channels_last'] else base for s in self.specs]
            source = f'random tensor {self.batch_size}x3x{h}x{w}'
            for spec, model, x in zip(self.specs, runs, inputs):
                spec['flops'] = backbone_flops(model, x)
            steps = [_backbone_step(m, x, self.device, s['amp'])
                     for m, x, s in zip(runs, inputs, self.specs)]
            return steps, inputs, source
        data, sources = [], []
        for cfg in cfgs:
            batches, src = make_test_batches(cfg, self.batch_size,
                                             min(self.iters, self.max_images), self.shape,
                                             self.synthetic)
            data.append(batches)
            sources.append(src)
        source = ' | '.join(dict.fromkeys(sources))
        steps = [_model_step(m, d) for m, d in zip(runs, data)]
        return steps, None, source

    def run_once(self, steps: Sequence[Callable[[int], object]]) -> List[List[float]]:
        """Warm-up rounds, then the timed ones; per-model times in ms."""
        with torch.inference_mode():
            return time_interleaved(steps, self.iters, self.warmup, self.sync)

    def _output_difference(self, runs: List[nn.Module], inputs: List[torch.Tensor]):
        """:func:`output_difference` of A's backbone outputs against B's."""
        outs = []
        with torch.inference_mode():
            for model, x, spec in zip(runs, inputs, self.specs):
                with autocast(self.device, spec['amp']):
                    outs.append(model(x))
        return output_difference(*outs)

    def _reference_rate(self) -> Dict[str, object]:
        amp = self.specs[0]['amp']
        dtype = AMP_DTYPES[amp] if amp else torch.float32
        return dict(what=f'{REFERENCE_SIZE}^3 matrix product, {str(dtype)[6:]}',
                    gmacs=matmul_rate(self.device, dtype, REFERENCE_SIZE) / 1e9)

    def summarize_runs(self, times: List[List[float]], source: str, machine: dict,
                       outputs: Optional[dict] = None,
                       reference: Optional[dict] = None) -> Dict[str, object]:
        """The result dict of :func:`benchmark` from the per-model times."""
        result = dict(
            mode='backbone' if self.backbone_only else 'model',
            settings=dict(device=self.device, batch_size=self.batch_size, iters=self.iters,
                          warmup=self.warmup, input=source, threads=machine['torch_threads']),
            machine=machine,
            models=[dict(spec, times_ms=t, **summarize(t, self.batch_size))
                    for spec, t in zip(self.specs, times)])
        for m in result['models']:
            if 'flops' in m:
                m['gmacs'] = m['flops'] / (m['median_ms'] / 1000.0) / 1e9
        if reference is not None:
            result['reference'] = reference
        if len(self.specs) == 2:
            result['ratio'] = result['models'][1]['median_ms'] / result['models'][0]['median_ms']
            if outputs is not None:
                result['outputs'] = outputs
        return result


def benchmark(config: str,
              checkpoint: Optional[str] = None,
              cfg_options: Optional[dict] = None,
              vs: Optional[str] = None,
              vs_checkpoint: Optional[str] = None,
              vs_cfg_options: Optional[dict] = None,
              vs_plain: bool = False,
              fuse: bool = False,
              amp: Optional[str] = None,
              channels_last: bool = False,
              **settings) -> Dict[str, object]:
    """Time one model, or two interleaved (A = ``config``, B = ``vs``).

    Args:
        config, checkpoint, cfg_options: model A.
        vs, vs_checkpoint, vs_cfg_options: model B (``vs`` may equal
            ``config``, e.g. with ``model.backbone.fast_inference=False``).
            Without ``vs_checkpoint``, B takes A's checkpoint when both have
            the same config, else A's random weights when the layouts agree.
        vs_plain: run B as the plain fp32 model, without ``fuse``,
            ``channels_last`` and ``amp``.
        fuse, amp, channels_last: the inference options (see
            :func:`~fasternet_dense.apis.inference.prepare_model`).
        settings: :class:`Benchmark`'s ``device``, ``batch_size``, ``shape``,
            ``iters``, ``warmup``, ``backbone_only``, ``synthetic``,
            ``threads``, ``max_images`` and ``peak``.

    Returns:
        A dict with ``settings``, ``machine``, ``models`` (one entry per model:
        config, options, parameter count, ``times_ms`` and
        :func:`~fasternet_dense.benchmark.timing.summarize` numbers) and, for two
        models, ``ratio`` = median B / median A (A's speedup over B) and, in
        backbone mode with equal output shapes, ``outputs`` (max abs
        difference between A's and B's outputs). In backbone mode each model
        also has ``flops`` (one forward, counted as
        :func:`~fasternet_dense.benchmark.complexity.complexity` does) and ``gmacs``
        (G multiply-adds per second at its median time).
    """
    options = dict(fuse=fuse, channels_last=channels_last, amp=amp)
    specs = [model_spec('A', config, checkpoint, cfg_options, **options)]
    if vs is not None or vs_cfg_options:
        vs = vs or config
        if vs_checkpoint is None and osp.abspath(vs) == osp.abspath(config):
            vs_checkpoint = checkpoint
        specs.append(model_spec('B', vs, vs_checkpoint, vs_cfg_options,
                                **({} if vs_plain else options)))
    return Benchmark(specs, **settings).run()


def benchmark_onnx(config: str, onnx_files: Sequence[str], checkpoint: Optional[str] = None,
                   cfg_options: Optional[dict] = None, backbone_only: bool = False,
                   shape: Optional[Sequence[int]] = None, iters: int = 50, warmup: int = 10,
                   threads: Optional[int] = None, seed: int = 0,
                   backends: Sequence[str] = ('onnxruntime', ),
                   precisions: Sequence[str] = ('fp32', ),
                   amp: Optional[str] = None) -> Dict[str, object]:
    """Time ONNX files in CPU runtimes interleaved with the PyTorch model
    they came from (batch norms folded, fast path), with the same thread
    count, on one random input.

    ``onnx_files``: exports of ``config`` (fp32, int8, ...) with one input,
    each run in every backend of ``backends`` (``'onnxruntime'``,
    ``'openvino'``) and, where the backend offers it, every precision of
    ``precisions`` (OpenVINO's ``'fp32'`` and ``'bf16'`` hints).
    ``amp``: also time the PyTorch model with its network under that
    autocast dtype. ``backbone_only``: the PyTorch side is
    ``model.backbone``, else the module a whole export holds
    (:func:`~fasternet_dense.deploy.export.export_module`, 0-255 input).
    ``shape`` (H, W): the input, by default the first file's static size,
    else the export's default. Returns the :meth:`Benchmark.summarize_runs`
    layout with one model per (file, backend, precision) after the PyTorch
    ones (``label``, ``kind``, ``backend``, ``precision``), and each row's
    ``speedup`` = PyTorch fp32 median / row median.
    """
    from ..apis.inference import fuse_model
    from ..deploy.export import EXPORT_SHAPES, example_input, export_module
    from ..deploy.onnx_model import (PRECISIONS, check_backend, is_int8, onnx_session,
                                     run_label, runtime_versions, static_input_size)
    check_counts(iters=iters, warmup=warmup)
    if amp is not None and amp not in AMP_DTYPES:
        raise OptionError('amp', f'{{option}} takes {" or ".join(AMP_DTYPES)}; got {amp}.')
    for backend in backends:
        check_backend(backend)
    runs = [(b, p) for b in dict.fromkeys(backends) for p in dict.fromkeys(precisions)
            if p in PRECISIONS[b]]
    if not runs:
        raise ConfigError(f'{" and ".join(backends)} run none of the precisions '
                          f'{", ".join(precisions)}; add --backend openvino for bf16.')
    for backend, precision in runs:
        check_backend(backend, precision)
    emulated = amp and amp_emulated('cpu', amp)
    if emulated:
        raise OptionError('amp', f'{{option}} {amp}: {emulated}; time without {{option}}, '
                          'or on a machine that has them.')
    cfg = load_config(config, cfg_options)
    scope = task_of(cfg)
    with num_threads(threads):
        sessions = [(f, b, p, onnx_session(f, torch.get_num_threads(), b, p))
                    for f in onnx_files for b, p in runs]
        h, w = check_shape(shape) or static_input_size(sessions[0][3]) or (
            BACKBONE_SHAPE if backbone_only else EXPORT_SHAPES[scope])
        x = example_input((h, w), not backbone_only, seed)
        feed = x.numpy()
        modules = []
        for dtype in [None] + ([amp] if amp else []):
            model = build_model(cfg, checkpoint, 'cpu', seed=seed)
            module, _ = export_module(model, scope, backbone_only)
            module = fuse_model(module.eval()).eval()
            if dtype and not backbone_only:
                autocast_network(model, dtype, 'cpu')
            modules.append(module)
        steps = [_backbone_step(m, x, 'cpu', dtype if backbone_only else None)
                 for m, dtype in zip(modules, [None, amp])]
        for _, _, _, session in sessions:
            name = session.get_inputs()[0].name
            steps.append(lambda _, s=session, n=name: s.run(None, {n: feed}))
        load_before = load_average()
        with torch.inference_mode():
            times = time_interleaved(steps, iters, warmup)
        machine = machine_info('cpu')
        machine['load_avg_1min_before'] = load_before
    machine.update(runtime_versions([b for b, _ in runs]))
    rows = [dict(label='PyTorch', kind='pytorch', precision='fp32')]
    if amp:
        rows.append(dict(label=f'PyTorch {amp} autocast', kind='pytorch', precision=amp))
    int8 = {f: is_int8(f) for f in onnx_files}  # each file read once
    rows += [dict(label=f'{run_label(backend, precision, int8[f])} {osp.basename(f)}',
                  kind=backend, file=f, backend=backend, precision=precision)
             for f, backend, precision, _ in sessions]
    models = [dict(row, times_ms=t, **summarize(t, 1)) for row, t in zip(rows, times)]
    for m in models[1:]:
        m['speedup'] = models[0]['median_ms'] / m['median_ms']
    kind = 'backbone' if backbone_only else 'detector' if scope == 'mmdet' else 'segmentor'
    return dict(mode='onnx', config=config, backbone_only=backbone_only, kind=kind,
                settings=dict(device='cpu', batch_size=1, iters=iters, warmup=warmup,
                              input=f'random tensor 1x3x{h}x{w}',
                              threads=machine['torch_threads']),
                machine=machine, models=models)


__all__ = ['BACKBONE_SHAPE', 'Benchmark', 'benchmark', 'benchmark_onnx', 'model_spec']
