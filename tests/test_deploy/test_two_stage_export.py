"""Whole two-stage detectors in ONNX: Mask R-CNN and Faster R-CNN with the
RPN, RoiAlign, both NMS and the mask head in standard operators, run by
onnxruntime and OpenVINO, against mmdet's own ``predict``."""
import copy

import numpy as np
import onnx
import pytest
import torch
from conftest import config_path, toy_coco_options
from mmengine.registry import MODELS, DefaultScope
from mmdet.structures import DetDataSample

from fasternet_dense.apis.config import load_config
from fasternet_dense.apis.inference import build_model
from fasternet_dense.datasets.toydata import make_toy_coco
from fasternet_dense.deploy.export import export_onnx
from fasternet_dense.deploy.onnx_model import onnx_model_cfg, onnx_session
from fasternet_dense.deploy.wrappers import TwoStageDetectorForExport
from fasternet_dense.utils.tasks import task_registries

TOY_MASK_RCNN = config_path('maskrcnn_fasternet_t0_toycoco.py')
# The toy Mask R-CNN without its mask branch: a Faster R-CNN.
FASTER = {'model.roi_head.mask_roi_extractor': None, 'model.roi_head.mask_head': None}


@pytest.fixture(scope='module')
def toy_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(str(root), num_train=8, num_val=4)
    return root


@pytest.fixture(scope='module')
def exported(toy_coco, tmp_path_factory):
    """Random toy Mask R-CNN weights (three classes: softmax scores near
    0.25, above the 0.05 threshold, so every image has detections), saved
    and exported: ``(options, checkpoint, onnx file, result)``."""
    tmp = tmp_path_factory.mktemp('mask_rcnn')
    options = toy_coco_options(toy_coco)
    model = build_model(load_config(TOY_MASK_RCNN, options), seed=0)
    ckpt = str(tmp / 'mask_rcnn.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = str(tmp / 'mask_rcnn.onnx')
    return options, ckpt, out, export_onnx(TOY_MASK_RCNN, out, ckpt, cfg_options=options)


def _standard_ops_only(path: str) -> set:
    """The op types of the file, checked to be in ONNX's default domain."""
    graph = onnx.load(path).graph
    assert {n.domain for n in graph.node} <= {'', 'ai.onnx'}
    return {n.op_type for n in graph.node}


def test_export_holds_standard_operators_and_matches_pytorch(exported):
    _, _, out, result = exported
    assert result['kind'] == 'detector'
    assert result['outputs'] == ['boxes', 'scores', 'labels', 'masks']
    assert {'NonMaxSuppression', 'RoiAlign', 'TopK'} <= _standard_ops_only(out)
    for key in ('vs_exported', 'vs_reference'):
        diff = result[key]
        assert diff['count'] == diff['expected_count'] > 0 and diff['same'], diff
        assert diff['box_relative'] < 1e-4 and diff['score_abs'] < 1e-5, diff
        assert diff['mask_abs'] < 1e-4, diff


def _sample(h: int, w: int, pad: int = 32) -> DetDataSample:
    ph, pw = -(-h // pad) * pad, -(-w // pad) * pad
    return DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.),
                                       batch_input_shape=(ph, pw), pad_shape=(ph, pw)))


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('size', [(100, 120), (96, 200), (33, 65)])
def test_any_image_size_gives_mmdets_detections(exported, backend, size):
    """The graph pads the image to the divisor as mmdet's data preprocessor
    does and clips to the image itself: mmdet's detections at any size."""
    options, ckpt, out, _ = exported
    model = build_model(load_config(TOY_MASK_RCNN, options), ckpt).eval()
    session = onnx_session(out, 1, backend)
    h, w = size
    image = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h)) * 255
    wrapper = TwoStageDetectorForExport(model)
    with torch.no_grad():
        x = wrapper.normalize(image)
        x = torch.nn.functional.pad(x, (0, (32 - w % 32) % 32, 0, (32 - h % 32) % 32))
        (expected, ) = model.predict(x, [_sample(h, w)], rescale=False)
    expected = expected.pred_instances
    boxes, scores, labels, masks = session.run(None, {'image': image.numpy()})
    assert len(scores) == len(expected.scores) > 0
    assert np.array_equal(labels, expected.labels.numpy())
    np.testing.assert_allclose(scores, expected.scores.numpy(), rtol=0, atol=1e-4)
    ref = expected.bboxes.numpy()
    assert (np.abs(boxes - ref) / np.maximum(np.abs(ref), 1.0)).max() <= 1e-3
    assert masks.shape == (len(scores), 28, 28) and 0 <= masks.min() and masks.max() <= 1


def _mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    union = (a | b).sum().item()
    return (a & b).sum().item() / union if union else 1.0


@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_evaluation_model_gives_mmdets_instances_with_pasted_masks(exported, backend):
    """:class:`OnnxDetector` around the file: on the toy test images, the
    instances mmdet's ``predict`` gives (rescaled, masks pasted into the
    original image)."""
    options, ckpt, out, _ = exported
    cfg = load_config(TOY_MASK_RCNN, options)
    model = build_model(cfg, ckpt).eval()
    onnx_model = MODELS.build(onnx_model_cfg(cfg, out, backend))
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = task_registries('mmdet').DATASETS.build(cfg.test_dataloader.dataset)
    compared = 0
    for i in range(len(dataset)):
        data = model.data_preprocessor({k: [v] for k, v in dataset[i].items()}, False)
        with torch.no_grad():
            (expected, ) = model.predict(data['inputs'], copy.deepcopy(data['data_samples']))
            (got, ) = onnx_model.predict(data['inputs'], copy.deepcopy(data['data_samples']))
        expected, got = expected.pred_instances, got.pred_instances
        assert len(got) == len(expected) > 0
        assert torch.equal(got.labels, expected.labels)
        torch.testing.assert_close(got.scores, expected.scores, rtol=0, atol=1e-4)
        torch.testing.assert_close(got.bboxes, expected.bboxes, rtol=1e-3, atol=1e-2)
        assert got.masks.shape == expected.masks.shape and got.masks.dtype == torch.bool
        ious = [_mask_iou(a, b) for a, b in zip(got.masks, expected.masks)]
        assert min(ious) >= 0.98, ious
        compared += 1
    assert compared == len(dataset) == 4


def test_faster_rcnn_exports_without_masks(toy_coco, tmp_path):
    options = toy_coco_options(toy_coco, **FASTER)
    out = str(tmp_path / 'faster_rcnn.onnx')
    result = export_onnx(TOY_MASK_RCNN, out, cfg_options=options)
    assert result['outputs'] == ['boxes', 'scores', 'labels']
    assert 'RoiAlign' in _standard_ops_only(out)
    assert result['vs_reference']['same'] and result['vs_reference']['count'] > 0
    cfg = load_config(TOY_MASK_RCNN, options)
    assert MODELS.build(onnx_model_cfg(cfg, out)).two_stage


def test_a_file_without_the_configs_outputs_is_refused(exported, toy_coco):
    """A Mask R-CNN file evaluated with a Faster R-CNN config (or the other
    way round) names the outputs it needs."""
    out = exported[2]
    cfg = load_config(TOY_MASK_RCNN, toy_coco_options(toy_coco, **FASTER))
    with pytest.raises(Exception, match=r'has outputs \[.boxes., .scores., .labels., .masks.\]; '
                       r'evaluation of this config takes a whole-detector export '
                       r'\(boxes, scores, labels\)'):
        MODELS.build(onnx_model_cfg(cfg, out))


@pytest.mark.slow
def test_onnx_metrics_equal_the_checkpoints_in_both_runtimes(tmp_path):
    """A briefly trained toy Mask R-CNN: ``tools/test.py`` with its ONNX
    file in onnxruntime and in OpenVINO gives the checkpoint's bbox and segm
    mAP (within 0.005); the int8 file runs in both and stays near them."""
    from conftest import as_argv, run_tool
    root = tmp_path / 'toy_coco'
    make_toy_coco(str(root), num_train=48, num_val=12)
    options = toy_coco_options(root, **{
        'train_cfg.max_epochs': 8, 'train_cfg.val_interval': 8,
        'param_scheduler.1.milestones': [7], 'param_scheduler.1.end': 8,
        'default_hooks.checkpoint.interval': 8, 'randomness.seed': 0})
    argv = as_argv(options)
    proc = run_tool('train.py', TOY_MASK_RCNN, '--work-dir', str(tmp_path / 'train'), *argv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = str(tmp_path / 'train' / 'epoch_8.pth')
    out = str(tmp_path / 'mask_rcnn.onnx')
    export_onnx(TOY_MASK_RCNN, out, ckpt, cfg_options=options)
    int8 = str(tmp_path / 'mask_rcnn_int8.onnx')
    from fasternet_dense.deploy.export import ExportOptions
    from fasternet_dense.deploy.quantize import QuantizeOptions
    export_onnx(TOY_MASK_RCNN, int8, ckpt, ExportOptions(int8=QuantizeOptions(calib=4)),
                cfg_options=options)

    def metrics(model_file, *extra):
        proc = run_tool('test.py', TOY_MASK_RCNN, model_file, *extra, '--work-dir',
                        str(tmp_path / 'test'), *argv)
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = dict(line.split() for line in proc.stdout.splitlines()
                     if line.startswith(('coco/bbox_mAP ', 'coco/segm_mAP ')))
        return {k: float(v) for k, v in found.items()}

    reference = metrics(ckpt)
    assert set(reference) == {'coco/bbox_mAP', 'coco/segm_mAP'} and reference['coco/bbox_mAP'] > 0
    for model_file, extra, tolerance in ((out, (), 0.005), (out, ('--backend', 'openvino'), 0.005),
                                         (int8, (), 0.05), (int8, ('--backend', 'openvino'), 0.05)):
        got = metrics(model_file, *extra)
        for key, value in reference.items():
            assert abs(got[key] - value) <= tolerance, (model_file, extra, got, reference)
