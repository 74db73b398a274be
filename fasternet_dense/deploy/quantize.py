"""int8 static quantisation of an exported ONNX file, calibrated on the
config's own images.

onnxruntime's quantisation tools do the work (``quant_pre_process``, then
``quantize_static`` in QDQ format: per-channel int8 weights, uint8
activations by default). The calibration images are ``num`` images of the
config's training set (its validation set when there is none) run through
the config's own test pipeline, resized to the exported input size and put
in the graph's input form: a 0-255 RGB image for a whole segmentor, the
normalised tensor of the model's data preprocessor for a backbone. Without
any dataset on disk the images are random, and a warning says so: random
calibration says nothing about accuracy.
"""
import copy
import os
import os.path as osp
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger

from ..utils.errors import ConfigError, OptionError
from ..utils.tasks import task_of, task_registries
from .wrappers import RawImageNormalizer

CALIBRATION_METHODS = ('minmax', 'entropy', 'percentile')
# What is quantised in a two-stage detector: the layers with weights.
TWO_STAGE_QUANTIZED = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')
ACTIVATION_TYPES = ('uint8', 'int8')


@dataclass
class QuantizeOptions:
    """How an exported file is quantised to int8 (static QDQ).

    Args:
        calib: calibration images from the config's own data.
        calib_method: ``'minmax'``, ``'entropy'`` or ``'percentile'``.
        per_channel: one weight scale per output channel (else per tensor).
        activations: ``'uint8'`` (asymmetric, onnxruntime's advice for CPU)
            or ``'int8'``.
        exclude: node names left in fp32.
    """
    calib: int = 8
    calib_method: str = 'minmax'
    per_channel: bool = True
    activations: str = 'uint8'
    exclude: Sequence[str] = ()

    def check(self) -> None:
        """:class:`ConfigError` for a setting quantisation does not take."""
        check_options(self.calib, self.calib_method, self.activations)


def check_options(calib: int, method: str = 'minmax', activation: str = 'uint8') -> None:
    """:class:`ConfigError` for a calibration size, method or activation
    type that quantisation does not take (checked before any export)."""
    if calib < 1:
        raise OptionError('calib', f'{{option}} takes a number of images >= 1; got {calib}.')
    if method not in CALIBRATION_METHODS:
        raise OptionError('calib_method', f'{{option}} takes {", ".join(CALIBRATION_METHODS)}; '
                          f'got {method}.')
    if activation not in ACTIVATION_TYPES:
        raise OptionError('activations', f'{{option}} takes {" or ".join(ACTIVATION_TYPES)}; '
                          f'got {activation}.')


def network_input(pre, bgr: torch.Tensor, raw_input: bool) -> torch.Tensor:
    """A pipeline's ``(3, H, W)`` BGR image (0-255) as the exported graph's
    input ``(1, 3, H, W)`` float32: RGB 0-255 with ``raw_input`` (what
    :class:`~fasternet_dense.deploy.wrappers.SegmentorForExport` takes), otherwise
    normalised as the model's data preprocessor ``pre`` does."""
    rgb = bgr.float().unsqueeze(0)[:, [2, 1, 0]]
    return rgb if raw_input else RawImageNormalizer(pre)(rgb)


def _dataset_cfg(cfg: Config) -> Tuple[Optional[dict], str]:
    """The training dataset (else the validation one) with the test
    pipeline, and which split it is."""
    test = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    pipeline = (test.get('dataset') or {}).get('pipeline') or cfg.get('test_pipeline')
    for split in ('train_dataloader', 'val_dataloader'):
        loader = cfg.get(split)
        if not loader or not loader.get('dataset'):
            continue
        dataset = copy.deepcopy(loader['dataset'])
        while 'dataset' in dataset and 'pipeline' not in dataset:  # wrappers
            dataset = dataset['dataset']
        if pipeline is not None:
            dataset['pipeline'] = copy.deepcopy(pipeline)
        return dataset, split.split('_')[0]
    return None, ''


def calibration_images(cfg: Config, num: int, shape: Optional[Sequence[int]], pre,
                       raw_input: bool, seed: int = 0) -> Tuple[List[np.ndarray], str]:
    """``num`` calibration inputs ``(1, 3, H, W)`` float32 for the exported
    graph, evenly spaced over the dataset, and where they came from.

    ``shape`` ``(H, W)``: the static input size each image is resized to
    (``None`` for a dynamic graph: the pipeline's sizes are kept). ``pre``:
    the model's data preprocessor; ``raw_input``: see :func:`network_input`.
    """
    check_options(num)
    logger = MMLogger.get_current_instance()
    dataset_cfg, split = _dataset_cfg(cfg)
    dataset = None
    if dataset_cfg is not None:
        registry = task_registries(task_of(cfg))
        from mmengine.registry import DefaultScope
        try:
            with DefaultScope.overwrite_default_scope(task_of(cfg)):
                dataset = registry.DATASETS.build(dataset_cfg)
        except (FileNotFoundError, OSError) as err:
            logger.warning(f'calibration: the {split} set is not there ({err})')
            dataset = None
    images = []
    if dataset is not None and len(dataset):
        indices = np.linspace(0, len(dataset) - 1, num=min(num, len(dataset))).round()
        for i in dict.fromkeys(int(k) for k in indices):
            x = network_input(pre, dataset[i]['inputs'], raw_input)
            if shape is not None and tuple(x.shape[-2:]) != tuple(shape):
                x = F.interpolate(x, size=tuple(shape), mode='bilinear', align_corners=False)
            images.append(x.numpy().astype(np.float32))
        return images, f'{len(images)} images of the {split} set through the test pipeline'
    logger.warning('calibration: no dataset of the config is on disk, so the int8 scales come '
                   f'from {num} random images; they say nothing about accuracy. Point the '
                   "config's data_root at the data to calibrate on real images.")
    gen = torch.Generator().manual_seed(seed)
    h, w = shape or (512, 512)
    for _ in range(num):
        bgr = torch.rand(3, h, w, generator=gen) * 255
        images.append(network_input(pre, bgr, raw_input).numpy())
    return images, f'{num} random images (no dataset on disk)'


class _Reader:
    """onnxruntime's calibration data reader over a list of inputs."""

    def __init__(self, name: str, images: Sequence[np.ndarray]):
        self.name = name
        self._items = iter(images)

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        item = next(self._items, None)
        return None if item is None else {self.name: item}


def quantize_onnx(fp32_path: str, int8_path: str, images: Sequence[np.ndarray],
                  options: Optional[QuantizeOptions] = None) -> Dict[str, object]:
    """Write the int8 QDQ model of ``fp32_path`` to ``int8_path``.

    Args:
        images: calibration inputs of the graph's one input.
        options: see :class:`QuantizeOptions` (``calib`` is ``len(images)``).

    Returns the settings used and the file's size.
    """
    options = options or QuantizeOptions()
    check_options(len(images), options.calib_method, options.activations)
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    methods = dict(minmax=CalibrationMethod.MinMax, entropy=CalibrationMethod.Entropy,
                   percentile=CalibrationMethod.Percentile)
    graph = onnx.load(fp32_path, load_external_data=False).graph
    name = graph.input[0].name
    op_types, skipped = None, 0
    if any(n.op_type == 'RoiAlign' for n in graph.node):
        images, skipped = _with_detections(fp32_path, name, images)
        # The calibrator measures every input and output of the node types
        # it quantises; RoI pooling per level and the mask head see empty
        # tensors for some images, so only the layers with weights are.
        op_types = list(TWO_STAGE_QUANTIZED)
    with tempfile.TemporaryDirectory(dir=osp.dirname(osp.abspath(int8_path))) as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(fp32_path, prepared, skip_symbolic_shape=True)
        quantize_static(prepared, osp.join(tmp, 'int8.onnx'), _Reader(name, images),
                        quant_format=QuantFormat.QDQ, per_channel=options.per_channel,
                        activation_type=QuantType.QUInt8 if options.activations == 'uint8'
                        else QuantType.QInt8,
                        weight_type=QuantType.QInt8,
                        calibrate_method=methods[options.calib_method],
                        nodes_to_exclude=list(options.exclude), op_types_to_quantize=op_types)
        os.replace(osp.join(tmp, 'int8.onnx'), int8_path)  # whole file or none
    return dict(int8_out=int8_path, int8_bytes=osp.getsize(int8_path),
                per_channel=options.per_channel, activations=options.activations,
                weights='int8', calibration_method=options.calib_method,
                calibration_images=len(images), excluded=list(options.exclude),
                **({'calibration_images_without_detections': skipped} if skipped else {}))


def _with_detections(path: str, name: str, images: Sequence[np.ndarray]):
    """The calibration images in which the fp32 two-stage detector finds
    something (the mask head's tensors are empty for the others), and how
    many were left out; an error when none is left."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    kept = [x for x in images if len(session.run(None, {name: x})[0])]
    if not kept:
        raise ConfigError(f'The detector finds nothing in any of the {len(images)} calibration '
                          'images, so its RoI heads cannot be calibrated; export from a trained '
                          "checkpoint and point the config's data_root at its images.")
    return kept, len(images) - len(kept)


def cosine(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Cosine similarity of two lists of outputs, flattened together."""
    x = np.concatenate([np.asarray(t, np.float64).ravel() for t in a])
    y = np.concatenate([np.asarray(t, np.float64).ravel() for t in b])
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-30))


__all__ = ['CALIBRATION_METHODS', 'ACTIVATION_TYPES', 'QuantizeOptions', 'check_options',
           'network_input', 'calibration_images', 'quantize_onnx', 'cosine']
