"""ONNX export of a backbone, a whole Semantic FPN segmentor or a whole
one-stage detector, checked with onnxruntime.

The backbone is exported fused (batch norms folded into the convolutions).
Neither FasterNet block path writes a tensor slice in place, so no graph holds
ScatterND and the file stays the size of the fp32 weights. Two block graphs
are offered: ``conv`` (default), the paper's Split -> Conv -> Concat -> Conv ->
Relu -> Conv -> Add, about 9 nodes per block, which every runtime fuses well;
and ``matmul``, the PyTorch fast path as MatMul/Add nodes (plus shape
arithmetic), which onnxruntime runs about 5% faster on CPU. The segmentor is
wrapped as ``image -> seg logits`` at the input size, a one-stage detector
(RTMDet, RetinaNet) as ``image -> boxes, scores, labels`` with decoding and
NMS in the graph, and a two-stage one (Faster R-CNN, Mask R-CNN) as ``image
of any size -> boxes, scores, labels[, masks]`` with the RPN, ``RoiAlign``,
the box head's NMS and the mask head in standard operators
(:mod:`~fasternet_dense.deploy.wrappers`); pasting the masks into the image
stays outside, as in mmdet.
``--int8`` quantises the file (:mod:`~fasternet_dense.deploy.quantize`).
``tools/export_onnx.py`` is the command line over :func:`export_onnx`
(:func:`~fasternet_dense.cli.export.export_main`).
"""
import os.path as osp
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from ..apis.config import load_config
from ..apis.inference import build_model, check_shape, fuse_model
from ..models.backbones.fasternet import use_fast_inference
from ..utils.config_utils import pipeline_steps
from ..utils.errors import ConfigError, OptionError
from ..utils.tasks import task_of
from .compare import output_difference, reference_copy
from .onnx_model import INPUT_KEY, NORMALIZED_INPUT, RAW_INPUT
from .quantize import QuantizeOptions
from .wrappers import DetectorForExport, SegmentorForExport, TwoStageDetectorForExport

# Static input of the export when no shape is given: the padded detection
# test size (1333x800 padded to a multiple of 32) or a 512x512 crop. (H, W).
EXPORT_SHAPES = {'mmdet': (800, 1344), 'mmseg': (512, 512)}


DETECTION_OUTPUTS = ('boxes', 'scores', 'labels')


BLOCK_PATHS = ('conv', 'matmul')


def _fuse(module: nn.Module, block_path: str) -> nn.Module:
    """Fold the batch norms and pick the FasterNet block graph (in place)."""
    module.eval()
    fuse_model(module)
    use_fast_inference(module, block_path == 'matmul')
    module.eval()
    return module


def check_writable(out: str) -> None:
    """Raise a one-line :class:`ConfigError` if ``out`` cannot be written
    (no such folder, a read-only file system, no permission), before any
    work is done."""
    out_dir = osp.dirname(osp.abspath(out))
    if not osp.isdir(out_dir):
        raise ConfigError(f'Output folder {out_dir} does not exist.')
    try:
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix='.write_test_'):
            pass
    except OSError as err:
        raise ConfigError(f'Cannot write {out}: {err.strerror or err} in {out_dir}; choose an '
                          'output path in a writable folder.') from None


def weight_bytes(module: nn.Module) -> int:
    """Bytes of the module's floating-point parameters and buffers."""
    tensors = list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]
    return sum(t.numel() * t.element_size() for t in tensors)


def set_metadata(path: str, entries: Dict[str, str]):
    """Add ``entries`` to the ONNX file's metadata (what its input is, for
    the evaluation in :mod:`~fasternet_dense.deploy.onnx_model`), in place;
    returns the model it wrote."""
    import onnx
    proto = onnx.load(path)
    for key, value in entries.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)
    return proto


def export_module(model: nn.Module, scope: str, backbone_only: bool = False,
                  raw_input: bool = True) -> Tuple[nn.Module, Optional[List[str]]]:
    """The module an export of ``model`` (of task ``scope``) holds and its
    output names: the backbone (names ``None``: one ``featN`` per output),
    a one-stage detector as :class:`DetectorForExport` or a segmentor as
    :class:`SegmentorForExport`."""
    if backbone_only:
        return model.backbone, None
    if scope == 'mmdet' and hasattr(model, 'roi_head'):
        module = TwoStageDetectorForExport(model)
        return module, list(DETECTION_OUTPUTS) + (['masks'] if module.with_mask else [])
    if scope == 'mmdet':
        return DetectorForExport(model), list(DETECTION_OUTPUTS)
    return SegmentorForExport(model, raw_input), ['seg_logits']


def example_input(shape: Sequence[int], image: bool, seed: int = 0) -> torch.Tensor:
    """A seeded ``(1, 3, H, W)`` input: a 0-255 image when ``image``, else
    a normalised (standard normal) tensor."""
    gen = torch.Generator().manual_seed(seed)
    if image:
        return torch.rand(1, 3, *shape, generator=gen) * 255
    return torch.randn(1, 3, *shape, generator=gen)


def fp32_name(out: str) -> str:
    """Where an int8 export keeps its fp32 model: ``NAME.fp32.onnx`` beside
    ``NAME.onnx``."""
    stem = out[:-len('.onnx')] if out.endswith('.onnx') else out
    return stem + '.fp32.onnx'


@dataclass
class ExportOptions:
    """How :func:`export_onnx` exports a config's model.

    Args:
        shape: ``(H, W)`` of the traced input; default 800x1344 (detection,
            or the size a fixed ``Pad`` of the test pipeline pads to) or
            512x512 (segmentation).
        backbone_only: export ``model.backbone`` (outputs ``feat0``...).
        raw_input: the graph takes a 0-255 RGB image (else a normalized one).
        dynamic: make batch, height and width dynamic axes.
        block_path: FasterNet block graph, ``'conv'`` or ``'matmul'`` (see
            the module docstring).
        opset: ONNX opset.
        verify: run the file with onnxruntime on a random input and compare
            with PyTorch.
        seed: of the random weights (without a checkpoint) and inputs.
        int8: also quantise with these settings
            (:class:`~fasternet_dense.deploy.quantize.QuantizeOptions`): the
            output is then the int8 model and the fp32 one is kept as
            :func:`fp32_name`.
    """
    shape: Optional[Sequence[int]] = None
    backbone_only: bool = False
    raw_input: bool = True
    dynamic: bool = False
    block_path: str = 'conv'
    opset: int = 17
    verify: bool = True
    seed: int = 0
    int8: Optional[QuantizeOptions] = None


def export_onnx(config: str, out: str, checkpoint: Optional[str] = None,
                options: Optional[ExportOptions] = None,
                cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """Export ``config``'s backbone, whole segmentor or whole one-stage
    detector to ``out`` (ONNX), as ``options`` say (:class:`ExportOptions`).

    Returns:
        ``dict(out, onnx_bytes, weight_bytes, size_ratio, inputs, outputs,
        ops)`` and with ``verify`` ``vs_exported`` (onnxruntime against the
        fused PyTorch module that was exported) and ``vs_reference`` (against
        the unfused model on FasterNet's split/concatenate path); both hold
        :func:`~fasternet_dense.deploy.compare.output_difference`'s numbers. With
        ``int8``: the quantisation settings, ``calibration`` (where the
        images came from), ``fp32_out`` and ``int8_vs_fp32`` (cosine and
        relative difference of the two files' outputs on the first
        calibration input).
    """
    o = options or ExportOptions()
    shape, backbone_only, raw_input, dynamic = o.shape, o.backbone_only, o.raw_input, o.dynamic
    block_path, seed = o.block_path, o.seed
    logger = MMLogger.get_current_instance()
    cfg = load_config(config, cfg_options)
    scope = task_of(cfg)
    whole_detector = scope == 'mmdet' and not backbone_only
    shape = check_shape(shape) or (whole_detector and _padded_test_size(cfg)) or \
        EXPORT_SHAPES[scope]
    if block_path not in BLOCK_PATHS:
        raise OptionError('block_path', f'{{option}} takes {" or ".join(BLOCK_PATHS)}; got '
                          f'{block_path}.')
    if o.int8 is not None:
        o.int8.check()
    check_writable(out)
    if whole_detector and not raw_input:
        raise OptionError('raw_input=False', 'A whole detector takes a 0-255 RGB image: '
                          '{option} does not apply to it.')
    two_stage = whole_detector and 'roi_head' in cfg.model
    if whole_detector and dynamic and not two_stage:
        raise OptionError('dynamic=True', 'A one-stage detector is exported for one input size '
                          '(its test pipeline pads to it): {option} does not apply to it.')
    model = build_model(cfg, checkpoint, 'cpu', seed=seed)
    module, names = export_module(model, scope, backbone_only, raw_input)
    reference = reference_copy(module)
    module = _fuse(module, block_path)

    x = example_input(shape, not backbone_only and raw_input, seed)
    with torch.no_grad():
        expected = module(x)
        ref_out = reference(x)
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    ref_out = list(ref_out) if isinstance(ref_out, (tuple, list)) else [ref_out]
    if names is None:
        names = [f'feat{i}' for i in range(len(expected))]
    axes = None
    if whole_detector:
        axes = {n: {0: 'detections'} for n in names}  # as many as survive NMS
        if two_stage:  # any image size: the graph pads it as mmdet does
            axes['image'] = {2: 'height', 3: 'width'}
    elif dynamic:
        axes = {'image': {0: 'batch', 2: 'height', 3: 'width'}}
        axes.update({n: {0: 'batch', 2: f'{n}_height', 3: f'{n}_width'} for n in names})

    final_out, out = out, (fp32_name(out) if o.int8 is not None else out)
    with torch.no_grad():
        torch.onnx.export(module, (x, ), out, dynamo=False, input_names=['image'],
                          output_names=names, opset_version=o.opset, dynamic_axes=axes,
                          do_constant_folding=True)
    input_kind = RAW_INPUT if raw_input and not backbone_only else NORMALIZED_INPUT
    graph = set_metadata(out, {INPUT_KEY: input_kind}).graph
    result = dict(out=out, config=config, shape=shape, backbone_only=backbone_only,
                  kind='backbone' if backbone_only else 'detector' if whole_detector
                  else 'segmentor', block_path=block_path,
                  onnx_bytes=osp.getsize(out), weight_bytes=weight_bytes(module),
                  inputs=['image'], outputs=names,
                  ops=dict(Counter(n.op_type for n in graph.node)))
    result['size_ratio'] = result['onnx_bytes'] / result['weight_bytes']
    if o.verify:
        import onnxruntime as ort
        session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
        got = session.run(None, {'image': x.numpy()})
        for key, ref in (('vs_exported', expected), ('vs_reference', ref_out)):
            if whole_detector:
                result[key] = detection_difference(got, ref)
                continue
            result[key] = output_difference(got, ref)
            if result[key] is None:
                raise RuntimeError(f'onnxruntime gave outputs of shapes {[o.shape for o in got]}, '
                                   f'PyTorch {[tuple(r.shape) for r in ref]}.')
    logger.info(f'exported {out}: {result["onnx_bytes"] / 2**20:.1f} MiB for '
                f'{result["weight_bytes"] / 2**20:.1f} MiB of fp32 weights')
    if o.int8 is not None:
        result.update(_quantize(cfg, model, out, final_out, o.int8,
                                shape=None if dynamic or two_stage else shape,
                                raw_input=raw_input and not backbone_only, seed=seed,
                                detector=whole_detector))
        result['out'] = final_out
    return result


def _quantize(cfg, model, fp32_out: str, out: str, options: QuantizeOptions, *,
              shape: Optional[Sequence[int]], raw_input: bool, seed: int,
              detector: bool) -> Dict[str, object]:
    """Quantise ``fp32_out`` into ``out`` on the config's own images and
    compare the two files' outputs on the first of them."""
    import onnxruntime as ort

    from .quantize import calibration_images, cosine, quantize_onnx
    images, source = calibration_images(cfg, options.calib, shape, model.data_preprocessor,
                                        raw_input, seed)
    result = dict(fp32_out=fp32_out, calibration=source)
    result.update(quantize_onnx(fp32_out, out, images, options))
    set_metadata(out, {INPUT_KEY: RAW_INPUT if raw_input else NORMALIZED_INPUT})
    outputs = [ort.InferenceSession(f, providers=['CPUExecutionProvider']).run(
        None, {'image': images[0]}) for f in (fp32_out, out)]
    if detector:
        # Two files' detections need not be as many: the metric on the test
        # set (tools/test.py MODEL.onnx) says what int8 costs.
        result['int8_vs_fp32'] = detection_difference(outputs[1], outputs[0])
    else:
        result['int8_vs_fp32'] = dict(cosine=cosine(outputs[1], outputs[0]),
                                      **output_difference(outputs[1], outputs[0]))
    return result


def _padded_test_size(cfg) -> Optional[Tuple[int, int]]:
    """``(H, W)`` that the test pipeline pads every image to (a fixed-size
    ``Pad``), or ``None``."""
    for kind, step in pipeline_steps(cfg):
        if kind == 'Pad' and step.get('size'):
            w, h = step['size']
            return int(h), int(w)
    return None


def detection_difference(got, expected) -> Dict[str, object]:
    """Two sets of ``(boxes, scores, labels[, masks])``, best first: how
    many each holds and, where the counts agree, whether the labels do, the
    largest box difference (relative to the coordinate, at least 1 pixel),
    the largest score difference and the largest mask probability one."""
    (boxes, scores, labels), (ref_boxes, ref_scores, ref_labels) = (
        [np.asarray(t) for t in side[:3]] for side in (got, expected))
    result = dict(count=len(scores), expected_count=len(ref_scores))
    if len(scores) != len(ref_scores):
        return dict(result, same=False)
    scale = np.maximum(np.abs(ref_boxes), 1.0)
    result.update(same_labels=bool(np.array_equal(labels, ref_labels)),
                  box_relative=float((np.abs(boxes - ref_boxes) / scale).max(initial=0.0)),
                  score_abs=float(np.abs(scores - ref_scores).max(initial=0.0)))
    if len(got) > 3 and len(expected) > 3:  # mask probabilities
        result['mask_abs'] = float(np.abs(np.asarray(got[3]) - np.asarray(expected[3])).max(
            initial=0.0))
    result['same'] = result['same_labels']
    return result


__all__ = ['export_onnx', 'export_module', 'example_input', 'fp32_name', 'detection_difference',
           'weight_bytes', 'EXPORT_SHAPES', 'BLOCK_PATHS']
