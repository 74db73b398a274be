"""Segmentors and one-stage detectors whose network runs in onnxruntime,
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


def onnx_session(path: str, threads: Optional[int] = None):
    """An onnxruntime CPU session of ``path`` with ``threads`` intra-op
    threads (default: torch's thread count, so both run alike)."""
    import onnxruntime as ort
    if not osp.isfile(path):
        raise MissingFileError(f'ONNX file {path} not found; write one with '
                               'tools/export_onnx.py CONFIG [CKPT] --out FILE.')
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


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
        self.session = onnx_session(onnx_file, threads)
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
        threads: onnxruntime's intra-op threads (default: torch's).
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
    """A one-stage mmdet detector config (RTMDet, RetinaNet) with its whole
    network, decoding and NMS in onnxruntime; the boxes are scaled back to
    the original image by the scale factor of each image's test pipeline,
    as mmdet's ``rescale`` does. Arguments as :class:`OnnxSegmentor`'s; the
    file is a whole-detector export (``boxes``, ``scores``, ``labels``)."""
    task = 'mmdet'

    def __init__(self, onnx_file: str, model: dict, **kwargs):
        super().__init__(onnx_file, model, **kwargs)
        if self.outputs != ['boxes', 'scores', 'labels']:
            raise ConfigError(f'{onnx_file} has outputs {self.outputs}; evaluation takes a '
                              'whole-detector export (boxes, scores, labels).')

    def predict(self, inputs: torch.Tensor, data_samples: list) -> List:
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


def onnx_model_cfg(cfg, onnx_file: str) -> dict:
    """The model config that evaluates ``onnx_file`` with ``cfg``'s own
    model around it: :class:`OnnxSegmentor` or :class:`OnnxDetector`."""
    from ..utils.tasks import task_of
    if task_of(cfg) == 'mmdet' and 'roi_head' in cfg.model:
        raise ConfigError('Evaluating an ONNX file covers Semantic FPN and one-stage detectors '
                          '(RTMDet, RetinaNet); for Mask R-CNN export the backbone only '
                          '(--backbone-only) and evaluate the PyTorch checkpoint.')
    check_onnx_file(onnx_file)
    kind = 'OnnxSegmentor' if task_of(cfg) == 'mmseg' else 'OnnxDetector'
    return dict(type=kind, onnx_file=osp.abspath(onnx_file), model=cfg.model)


__all__ = ['INPUT_KEY', 'RAW_INPUT', 'NORMALIZED_INPUT', 'onnx_session', 'check_onnx_file',
           'static_input_size',
           'OnnxSegmentor',
           'OnnxDetector', 'onnx_model_cfg']
