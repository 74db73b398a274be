"""Segmentors and detectors whose network runs in onnxruntime or OpenVINO,
for evaluating what is deployed with the config's own test set and metrics.

``tools/test.py CONFIG MODEL.onnx`` puts :class:`OnnxSegmentor` or
:class:`OnnxDetector` around the config's model (``model=dict(
type='OnnxSegmentor', onnx_file=..., model=<the config's model>)``): the
model's data preprocessor prepares each batch, the exported file (fp32 or
int8, as ``tools/export_onnx.py`` writes it) computes the logits or the
detections, and the model's own post-processing (mmseg's
``postprocess_result``; mmdet's rescaling to the original image) makes the
predictions, so the evaluator sees what it sees for a PyTorch checkpoint.
"""
import copy
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from ..utils.errors import ConfigError, MissingFileError
from .wrappers import RawImageNormalizer

# Metadata key that tools/export_onnx.py writes: what the graph's input is.
INPUT_KEY = 'fasternet_dense.input'
RAW_INPUT, NORMALIZED_INPUT = 'rgb_0_255', 'normalized'


# The CPU runtimes an exported file runs in, and the precisions each offers
# for an fp32 file (an int8 file is int8 in both, its float parts in the
# precision asked for).
BACKENDS = ('onnxruntime', 'openvino')
PRECISIONS = {'onnxruntime': ('fp32', ), 'openvino': ('fp32', 'bf16')}


def check_backend(backend: str, precision: str = 'fp32') -> None:
    """Raise a one-line error for an unknown backend, a precision the
    backend does not offer, or bf16 on a CPU OpenVINO runs without it."""
    if backend not in BACKENDS:
        raise ConfigError(f'Unknown backend {backend}; choose {" or ".join(BACKENDS)}.')
    if precision not in PRECISIONS[backend]:
        raise ConfigError(f'{backend} runs the file in {" or ".join(PRECISIONS[backend])}, not '
                          f'{precision}; use --backend openvino for bf16, or quantise the '
                          'file (tools/export_onnx.py --int8) for int8.')
    if precision == 'bf16':
        import openvino as ov
        found = ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
        if 'BF16' not in found:
            raise ConfigError(f'This CPU has no bf16 support that OpenVINO uses (it offers '
                              f'{", ".join(found)}); run fp32, or the int8 file.')


class _Port:
    """An input or output as onnxruntime describes it: ``name`` and
    ``shape`` (ints, a string for a dynamic axis)."""

    def __init__(self, name: str, shape: list):
        self.name, self.shape = name, shape


class _Meta:

    def __init__(self, entries: dict):
        self.custom_metadata_map = entries


class OpenVinoSession:
    """An ONNX file compiled by OpenVINO for the CPU, answering the part of
    onnxruntime's ``InferenceSession`` interface this package uses
    (``get_inputs``, ``get_outputs``, ``get_modelmeta``, ``run``), so every
    caller runs either runtime alike.

    Args:
        path: the ONNX file (fp32, or int8 with QuantizeLinear and
            DequantizeLinear nodes, which OpenVINO runs as int8).
        threads: ``INFERENCE_NUM_THREADS``.
        precision: ``'fp32'`` or ``'bf16'`` (OpenVINO's inference precision
            hint: the float parts of the graph run in that type).
    """

    def __init__(self, path: str, threads: int, precision: str = 'fp32'):
        import onnx
        import openvino as ov
        core = ov.Core()
        model = core.read_model(path)
        self.compiled = core.compile_model(model, 'CPU', {
            'INFERENCE_NUM_THREADS': int(threads),
            'INFERENCE_PRECISION_HINT': 'bf16' if precision == 'bf16' else 'f32',
            'PERFORMANCE_HINT': 'LATENCY'})
        self.request = self.compiled.create_infer_request()
        proto = onnx.load(path, load_external_data=False)
        self.metadata = {p.key: p.value for p in proto.metadata_props}
        # A port may carry several tensor names; the file's own name is the one.
        self.ports = {}
        for port in [*self.compiled.inputs, *self.compiled.outputs]:
            for name in port.get_names():
                self.ports[name] = port
        self.inputs = [_Port(i.name, [d.get_length() if d.is_static else str(d)
                                      for d in self.ports[i.name].get_partial_shape()])
                       for i in proto.graph.input]
        self.outputs = [_Port(o.name, []) for o in proto.graph.output]

    def get_inputs(self) -> List[_Port]:
        return self.inputs

    def get_outputs(self) -> List[_Port]:
        return self.outputs

    def get_modelmeta(self) -> _Meta:
        return _Meta(self.metadata)

    def run(self, output_names, feeds: dict) -> List[np.ndarray]:
        results = self.request.infer(feeds)
        names = output_names or [o.name for o in self.outputs]
        return [np.array(results[self.ports[n]]) for n in names]


def onnx_session(path: str, threads: Optional[int] = None, backend: str = 'onnxruntime',
                 precision: str = 'fp32'):
    """A CPU session of ``path`` in ``backend`` (onnxruntime's
    ``InferenceSession`` or :class:`OpenVinoSession`) with ``threads``
    threads (default: torch's thread count, so all run alike)."""
    if not osp.isfile(path):
        raise MissingFileError(f'ONNX file {path} not found; write one with '
                               'tools/export_onnx.py CONFIG [CKPT] --out FILE.')
    check_backend(backend, precision)
    threads = threads or torch.get_num_threads()
    if backend == 'openvino':
        return OpenVinoSession(path, threads, precision)
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def runtime_versions(backends) -> dict:
    """The version of each runtime in ``backends``."""
    versions = {}
    for backend in set(backends):
        module = __import__(backend)
        versions[backend] = module.__version__ if backend == 'onnxruntime' else \
            module.get_version().split('-')[0]
    return versions


def is_int8(path: str) -> bool:
    """Whether the ONNX file is quantised (holds QuantizeLinear nodes)."""
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    return any(n.op_type == 'QuantizeLinear' for n in graph.node)


def run_label(backend: str, precision: str, int8: bool) -> str:
    """How a file runs, in words: ``'openvino bf16'``, or for an int8 file
    (:func:`is_int8`) ``'onnxruntime int8'`` (``'openvino int8+bf16'`` where
    its float parts run in bf16)."""
    if not int8:
        return f'{backend} {precision}'
    return f'{backend} int8' + ('' if precision == 'fp32' else f'+{precision}')


def check_onnx_file(path: str) -> None:
    """Raise a one-line error if ``path`` is missing or not an ONNX model
    (random bytes, a checkpoint renamed ``.onnx``)."""
    import onnx
    if not osp.isfile(path):
        raise MissingFileError(f'ONNX file {path} not found; write one with '
                               'tools/export_onnx.py CONFIG [CKPT] --out FILE.')
    try:
        proto = onnx.load(path, load_external_data=False)
        if not proto.graph.node or not proto.graph.input:
            raise ValueError('no graph in it')
    except Exception as err:  # protobuf's DecodeError and friends
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f'{path} is not an ONNX model ({reason}); pass a file written by '
                          'tools/export_onnx.py, or a .pth checkpoint.') from None


def static_input_size(session) -> Optional[Tuple[int, int]]:
    """``(H, W)`` of a session's one input when both are fixed, else None."""
    dims = session.get_inputs()[0].shape[2:]
    return tuple(dims) if all(isinstance(d, int) for d in dims) else None


class _OnnxModel(BaseModel):
    """``model`` (the config's detector or segmentor) with its network in
    onnxruntime; see :class:`OnnxSegmentor` and :class:`OnnxDetector`."""
    task = ''

    def __init__(self, onnx_file: str, model: dict, threads: Optional[int] = None,
                 backend: str = 'onnxruntime', precision: str = 'fp32',
                 data_preprocessor: Optional[dict] = None):
        from mmengine.registry import DefaultScope

        from ..utils.tasks import task_registries
        registry = task_registries(self.task)
        model = copy.deepcopy(model)
        if data_preprocessor is not None and model.get('data_preprocessor') is None:
            model['data_preprocessor'] = data_preprocessor
        with DefaultScope.overwrite_default_scope(self.task):
            torch_model = registry.MODELS.build(model)
        super().__init__(data_preprocessor=torch_model.data_preprocessor)
        self.torch_model = torch_model.eval()
        self.session = onnx_session(onnx_file, threads, backend, precision)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.raw_input = meta.get(INPUT_KEY, RAW_INPUT) == RAW_INPUT
        (inp, ) = self.session.get_inputs()
        self.input_name = inp.name
        self.static_size = static_input_size(self.session)
        self.static_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.normalize = RawImageNormalizer(torch_model.data_preprocessor)

    def _graph_input(self, inputs: torch.Tensor) -> np.ndarray:
        """The preprocessed batch as the file's input: back to RGB 0-255 for
        a raw-input export."""
        x = inputs.float()
        if self.raw_input:
            x = self.normalize.inverse(x)
        return np.ascontiguousarray(x.cpu().numpy(), dtype=np.float32)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'predict') -> List:
        if mode != 'predict':
            raise ConfigError(f'{type(self).__name__} only predicts (mode={mode!r}); train '
                              'the PyTorch model.')
        return self.predict(inputs, data_samples)


@MODELS.register_module()
class OnnxSegmentor(_OnnxModel):
    """An mmseg segmentor config with its network in onnxruntime.

    Args:
        onnx_file: a whole-segmentor export (``image -> seg_logits``).
        model: the config's model; built for its data preprocessor and its
            post-processing, its weights are not used.
        threads: the runtime's threads (default: torch's).
        backend: ``'onnxruntime'`` or ``'openvino'``.
        precision: ``'fp32'``, or ``'bf16'`` in OpenVINO.
        data_preprocessor: what the runner passes from the config's top
            level; it goes to ``model`` when that has none of its own.
    """
    task = 'mmseg'

    def __init__(self, onnx_file: str, model: dict, **kwargs):
        super().__init__(onnx_file, model, **kwargs)
        if self.outputs != ['seg_logits']:
            raise ConfigError(f'{onnx_file} has outputs {self.outputs}; evaluation takes a '
                              'whole-segmentor export (seg_logits), not --backbone-only.')

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list]) -> List:
        x = self._graph_input(inputs)
        size = tuple(x.shape[-2:])
        if self.static_size is not None and size != self.static_size:
            # A fixed-size export sees the image resized to its size; its
            # logits come back at the image's.
            x = F.interpolate(torch.from_numpy(x), size=self.static_size, mode='bilinear',
                              align_corners=False).numpy()
        step = self.static_batch or len(x)  # a fixed-batch export takes that many at a time
        logits = torch.from_numpy(np.concatenate([
            self.session.run(None, {self.input_name: x[i:i + step]})[0]
            for i in range(0, len(x), step)]))
        if tuple(logits.shape[-2:]) != size:
            logits = F.interpolate(logits, size=size, mode='bilinear',
                                   align_corners=self.torch_model.align_corners)
        return self.torch_model.postprocess_result(logits, data_samples)


@MODELS.register_module()
class OnnxDetector(_OnnxModel):
    """An mmdet detector config with its whole network, decoding and NMS in
    the ONNX file: a one-stage detector (RTMDet, RetinaNet; outputs
    ``boxes``, ``scores``, ``labels``) or a two-stage one (Faster R-CNN;
    Mask R-CNN adds ``masks``). The boxes are scaled back to the original
    image by the scale factor of each image's test pipeline, as mmdet's
    ``rescale`` does, and Mask R-CNN's per-box mask probabilities are pasted
    into it by the config's own mask head (``FCNMaskHead.predict_by_feat``).
    Arguments as :class:`OnnxSegmentor`'s."""
    task = 'mmdet'

    def __init__(self, onnx_file: str, model: dict, **kwargs):
        super().__init__(onnx_file, model, **kwargs)
        two_stage = hasattr(self.torch_model, 'roi_head')
        want = ['boxes', 'scores', 'labels'] + (
            ['masks'] if two_stage and self.torch_model.roi_head.with_mask else [])
        if self.outputs != want:
            raise ConfigError(f'{onnx_file} has outputs {self.outputs}; evaluation of this '
                              f'config takes a whole-detector export ({", ".join(want)}).')
        self.two_stage = two_stage

    def predict(self, inputs: torch.Tensor, data_samples: list) -> List:
        if self.two_stage:
            return self._predict_two_stage(inputs, data_samples)
        from mmengine.structures import InstanceData
        x = self._graph_input(inputs)
        if self.static_size is not None and tuple(x.shape[-2:]) != self.static_size:
            raise ConfigError(f'The ONNX file takes {self.static_size[0]}x{self.static_size[1]} '
                              f'inputs; the test pipeline gives {x.shape[2]}x{x.shape[3]}. '
                              'Export with --shape H W of the padded test images.')
        for image, sample in zip(x, data_samples):
            boxes, scores, labels = self.session.run(None, {self.input_name: image[None]})
            boxes = torch.from_numpy(boxes)
            w_scale, h_scale = sample.metainfo.get('scale_factor', (1.0, 1.0))
            boxes = boxes / boxes.new_tensor([w_scale, h_scale, w_scale, h_scale])
            sample.pred_instances = InstanceData(bboxes=boxes, scores=torch.from_numpy(scores),
                                                 labels=torch.from_numpy(labels))
        return data_samples

    def _predict_two_stage(self, inputs: torch.Tensor, data_samples: list) -> List:
        """Each image at its own size (the graph pads it), its detections
        scaled to the original image and its masks pasted as mmdet does."""
        from mmengine.structures import InstanceData
        x = self._graph_input(inputs)
        roi_head = self.torch_model.roi_head
        for image, sample in zip(x, data_samples):
            h, w = sample.metainfo.get('img_shape', image.shape[-2:])[:2]
            outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(
                image[None, :, :h, :w])})
            boxes, scores, labels = (torch.from_numpy(np.asarray(t)) for t in outputs[:3])
            if len(outputs) == 3:
                w_scale, h_scale = sample.metainfo.get('scale_factor', (1.0, 1.0))
                boxes = boxes / boxes.new_tensor([w_scale, h_scale, w_scale, h_scale])
                sample.pred_instances = InstanceData(bboxes=boxes, scores=scores, labels=labels)
                continue
            # Labels 0 with one probability map per box: the mask head picks
            # channel 0, which is each box's own class; it scales the boxes.
            result = InstanceData(bboxes=boxes, scores=scores, labels=torch.zeros_like(labels))
            result = roi_head.mask_head.predict_by_feat(
                (torch.from_numpy(np.asarray(outputs[3]))[:, None], ), [result],
                [sample.metainfo], roi_head.test_cfg, rescale=True, activate_map=True)[0]
            result.labels = labels
            sample.pred_instances = result
        return data_samples


def onnx_model_cfg(cfg, onnx_file: str, backend: str = 'onnxruntime',
                   precision: str = 'fp32') -> dict:
    """The model config that evaluates ``onnx_file`` in ``backend`` with
    ``cfg``'s own model around it: :class:`OnnxSegmentor` or
    :class:`OnnxDetector`."""
    from ..utils.tasks import task_of
    check_backend(backend, precision)
    check_onnx_file(onnx_file)
    kind = 'OnnxSegmentor' if task_of(cfg) == 'mmseg' else 'OnnxDetector'
    return dict(type=kind, onnx_file=osp.abspath(onnx_file), model=cfg.model, backend=backend,
                precision=precision)


__all__ = ['INPUT_KEY', 'RAW_INPUT', 'NORMALIZED_INPUT', 'BACKENDS', 'PRECISIONS',
           'OpenVinoSession', 'check_backend', 'onnx_session', 'runtime_versions', 'is_int8',
           'run_label',
           'check_onnx_file',
           'static_input_size',
           'OnnxSegmentor',
           'OnnxDetector', 'onnx_model_cfg']
