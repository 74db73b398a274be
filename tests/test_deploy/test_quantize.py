"""Deployment with ONNX: int8 export with onnxruntime's static quantisation
calibrated on the config's own images, whole one-stage detectors with NMS in
the graph, evaluation of an ONNX file with the config's test set and
metrics, and timing ONNX files beside the PyTorch model."""
import json

import numpy as np
import pytest
import torch
from conftest import as_argv, config_path, error_line, loader_options, run_tool, toy_coco_options

from fasternet_dense.apis.config import build_runner, load_config
from fasternet_dense.apis.inference import build_model
from fasternet_dense.datasets.toydata import make_toy_ade
from fasternet_dense.deploy.export import ExportOptions, export_onnx, fp32_name
from fasternet_dense.deploy.quantize import QuantizeOptions, calibration_images, cosine
from fasternet_dense.utils.errors import OptionError

TOY_SEG = config_path('semfpn_fasternet_t0_toyade.py')
TOY_RTMDET = config_path('rtmdet_fasternet_t0_toycoco.py')


@pytest.fixture(scope='module')
def toy_ade(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(str(root), num_train=32, num_val=8)
    return root


@pytest.fixture(scope='module')
def trained(toy_ade, tmp_path_factory):
    """The toy Semantic FPN after 40 training iterations: (config options,
    checkpoint)."""
    work_dir = tmp_path_factory.mktemp('train')
    options = loader_options(toy_ade, **{
        'train_cfg.max_iters': 40, 'train_cfg.val_interval': 40,
        'param_scheduler.0.end': 5, 'param_scheduler.1.begin': 5, 'param_scheduler.1.end': 40,
        'default_hooks.checkpoint.interval': 40, 'randomness.seed': 0})
    cfg = load_config(TOY_SEG, options, str(work_dir))
    runner = build_runner(cfg)
    runner.train()
    return options, str(work_dir / 'iter_40.pth')


def test_int8_segmentor_is_calibrated_on_the_configs_images_and_follows_fp32(trained, tmp_path):
    import onnx
    import onnxruntime as ort
    options, ckpt = trained
    out = str(tmp_path / 'seg.onnx')
    result = export_onnx(TOY_SEG, out, ckpt,
                         options=ExportOptions(shape=(128, 128), int8=QuantizeOptions(calib=8)),
                         cfg_options=options)
    assert result['out'] == out and result['fp32_out'] == fp32_name(out)
    assert result['calibration'] == '8 images of the train set through the test pipeline'
    assert result['per_channel'] and result['activations'] == 'uint8'
    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert {'QuantizeLinear', 'DequantizeLinear'} <= ops
    # int8 weights: the file is about a quarter of the fp32 one.
    assert result['int8_bytes'] < 0.4 * result['onnx_bytes']
    assert result['int8_vs_fp32']['cosine'] >= 0.98
    # On a validation image as well, not only a calibration one.
    cfg = load_config(TOY_SEG, options)
    model = build_model(cfg)
    cfg.train_dataloader.dataset.data_prefix = cfg.val_dataloader.dataset.data_prefix
    (image, ), _ = calibration_images(cfg, 1, (128, 128), model.data_preprocessor, True)
    outs = [ort.InferenceSession(f, providers=['CPUExecutionProvider']).run(
        None, {'image': image})[0] for f in (fp32_name(out), out)]
    assert cosine(outs[1], outs[0]) >= 0.98


def test_int8_backbone_without_data_calibrates_on_random_images_and_warns(tmp_path):
    import logging

    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        out = str(tmp_path / 'backbone.onnx')
        missing = str(tmp_path / 'no_data')
        options = ExportOptions(shape=(64, 64), backbone_only=True,
                                int8=QuantizeOptions(calib=2, per_channel=False))
        result = export_onnx(config_path('semfpn_fasternet_t0_ade20k.py'), out, options=options,
                             cfg_options={'train_dataloader.dataset.data_root': missing,
                                          'val_dataloader.dataset.data_root': missing})
    finally:
        logger.removeHandler(handler)
    assert result['calibration'] == '2 random images (no dataset on disk)'
    assert not result['per_channel']
    assert result['int8_vs_fp32']['cosine'] >= 0.9
    assert any('they say nothing about accuracy' in r.getMessage() for r in records)


def test_onnx_file_gives_the_same_metrics_as_its_checkpoint(trained, toy_ade, tmp_path):
    options, ckpt = trained
    out = str(tmp_path / 'seg.onnx')
    export_onnx(TOY_SEG, out, ckpt, options=ExportOptions(shape=(128, 128)), cfg_options=options)
    metrics = []
    for model_file in (ckpt, out):
        proc = run_tool('test.py', TOY_SEG, model_file, '--work-dir', str(tmp_path / 'test'),
                        *as_argv(options))
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics.append({k: float(v) for k, v in (line.split() for line in
                                                  proc.stdout.strip().splitlines()[-3:])})
    assert set(metrics[0]) == {'aAcc', 'mIoU', 'mAcc'}
    for key in metrics[0]:
        assert abs(metrics[0][key] - metrics[1][key]) <= 1e-4, (key, metrics)
    assert metrics[0]['mIoU'] > 0


def test_an_empty_onnx_file_for_mask_rcnn_is_refused_in_one_line(tmp_path):
    fake = tmp_path / 'det.onnx'
    fake.write_bytes(b'')
    line = error_line(run_tool('test.py', 'configs/maskrcnn_fasternet_t0_toycoco.py',
                               str(fake)))
    assert line.startswith(f'error: {fake} is not an ONNX model (')


@pytest.fixture(scope='module')
def toy_coco(tmp_path_factory):
    from fasternet_dense.datasets.toydata import make_toy_coco
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(str(root), num_train=16, num_val=8)
    return root


def test_rtmdet_onnx_with_nms_gives_the_detections_of_pytorch(toy_coco, tmp_path):
    """Random weights with the box branch's bias at 2 (every point gets a
    box) and the score threshold at 0: each image has max_per_img
    detections after NMS, in PyTorch and in onnxruntime alike."""
    import onnxruntime as ort
    options = toy_coco_options(toy_coco, **{'model.test_cfg.score_thr': 0.0})
    cfg = load_config(TOY_RTMDET, options)
    model = build_model(cfg)
    for reg in model.bbox_head.rtm_reg:
        reg.bias.data.fill_(2.0)
    ckpt = str(tmp_path / 'rtmdet.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = str(tmp_path / 'rtmdet.onnx')
    result = export_onnx(TOY_RTMDET, out, ckpt, cfg_options=options)
    assert result['kind'] == 'detector' and tuple(result['shape']) == (128, 128)
    assert result['outputs'] == ['boxes', 'scores', 'labels']
    assert 'NonMaxSuppression' in result['ops']
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    model = build_model(cfg, ckpt)
    from mmengine.registry import DefaultScope

    from fasternet_dense.utils.tasks import task_registries
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = task_registries('mmdet').DATASETS.build(cfg.test_dataloader.dataset)
    compared = 0
    for i in range(4):
        data = model.data_preprocessor(
            {k: [v] for k, v in dataset[i].items()}, False)
        with torch.no_grad():
            (expected, ) = model.predict(data['inputs'], data['data_samples'], rescale=False)
        expected = expected.pred_instances
        image = dataset[i]['inputs'][[2, 1, 0]].float()[None]  # the pipeline's BGR as RGB
        boxes, scores, labels = session.run(None, {'image': image.numpy()})
        assert len(scores) == len(expected.scores) == cfg.model.test_cfg.max_per_img
        assert np.array_equal(labels, expected.labels.numpy())
        np.testing.assert_allclose(scores, expected.scores.numpy(), rtol=0, atol=1e-4)
        ref = expected.bboxes.numpy()
        assert (np.abs(boxes - ref) / np.maximum(np.abs(ref), 1.0)).max() <= 1e-3
        compared += 1
    assert compared == 4
    # tools/test.py with the file: the same metrics as with the checkpoint.
    metrics = []
    for model_file in (ckpt, out):
        proc = run_tool('test.py', TOY_RTMDET, model_file, '--work-dir', str(tmp_path / 't'),
                        *as_argv(options))
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics.append([line for line in proc.stdout.splitlines()
                        if line.startswith('coco/bbox_mAP')])
    assert metrics[0] and metrics[0] == metrics[1]
    # int8 on the toy training images: the file runs and still detects.
    int8 = export_onnx(TOY_RTMDET, str(tmp_path / 'rtmdet8.onnx'), ckpt,
                       options=ExportOptions(int8=QuantizeOptions(calib=2)), cfg_options=options)
    assert int8['calibration'] == '2 images of the train set through the test pipeline'
    assert int8['int8_vs_fp32']['count'] > 0


def test_benchmark_times_onnx_files_beside_the_pytorch_model(tmp_path):
    out = str(tmp_path / 'bb.onnx')
    export_onnx(TOY_SEG, out, options=ExportOptions(shape=(64, 64), backbone_only=True))
    proc = run_tool('benchmark.py', TOY_SEG, '--onnx', out, '--backbone-only', '--iters', '2',
                    '--warmup', '0', '--threads', '1', '--json', str(tmp_path / 'r.json'),
                    '--backend', 'onnxruntime', 'openvino')
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / 'r.json').read_text())
    assert [m['label'] for m in result['models']] == [
        'PyTorch', 'onnxruntime fp32 bb.onnx', 'openvino fp32 bb.onnx']
    assert set(result['machine']) >= {'onnxruntime', 'openvino'}
    assert result['settings']['input'] == 'random tensor 1x3x64x64'
    assert result['settings']['threads'] == 1
    m = result['models'][1]
    assert len(m['times_ms']) == 2
    assert m['speedup'] == pytest.approx(result['models'][0]['median_ms'] / m['median_ms'])
    assert 'speed-up' in proc.stdout


def test_calibration_size_must_be_positive(tmp_path):
    line = error_line(run_tool('export_onnx.py', TOY_SEG, '--out', str(tmp_path / 'a.onnx'),
                               '--shape', '64', '64', '--int8', '--calib', '0'))
    assert '--calib takes a number of images >= 1' in line
    assert not list(tmp_path.iterdir())  # refused before anything was written
    with pytest.raises(OptionError, match=r'^calib takes a number of images >= 1; got 0\.$'):
        QuantizeOptions(calib=0).check()
    with pytest.raises(OptionError, match=r'^activations takes uint8 or int8; got fp8\.$'):
        QuantizeOptions(activations='fp8').check()


def test_options_a_whole_detector_does_not_take_are_named_by_library_and_tool(tmp_path,
                                                                             capsys):
    from fasternet_dense.cli import export_main
    with pytest.raises(OptionError, match=r'^A whole detector takes a 0-255 RGB image: '
                       r'raw_input=False does not apply to it\.$'):
        export_onnx(TOY_RTMDET, str(tmp_path / 'd.onnx'), options=ExportOptions(raw_input=False))
    assert export_main([TOY_RTMDET, '--out', str(tmp_path / 'd.onnx'), '--dynamic']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: A one-stage detector is exported for one input size (its test pipeline pads to '
        'it): --dynamic does not apply to it.')
    assert export_main([TOY_RTMDET, '--out', str(tmp_path / 'd.onnx'),
                        '--normalized-input']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: A whole detector takes a 0-255 RGB image: --normalized-input does not apply '
        'to it.')
    assert not list(tmp_path.iterdir())


RETINANET_T0 = """
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['fasternet_dense'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='FasterNet', arch='t0', out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[40, 80, 160, 320]),
    test_cfg=dict(score_thr=0.0))
"""


def test_retinanet_onnx_with_nms_gives_the_detections_of_pytorch(tmp_path):
    """RetinaNet (anchors, delta boxes) with a FasterNet-T0 backbone and
    random weights, score threshold 0: onnxruntime's detections equal
    mmdet's own predict on the same image."""
    import onnxruntime as ort
    from mmdet.structures import DetDataSample
    config = tmp_path / 'retinanet_fasternet_t0.py'
    config.write_text(RETINANET_T0)
    out = str(tmp_path / 'retinanet.onnx')
    result = export_onnx(str(config), out, options=ExportOptions(shape=(128, 160)))
    assert result['kind'] == 'detector' and result['vs_exported']['same']
    model = build_model(load_config(str(config)))  # the same seeded random weights
    gen = torch.Generator().manual_seed(1)
    rgb = torch.rand(1, 3, 128, 160, generator=gen) * 255
    sample = DetDataSample(metainfo=dict(img_shape=(128, 160), ori_shape=(128, 160),
                                         scale_factor=(1.0, 1.0)))
    pre = model.data_preprocessor  # the network sees RGB where it converts, else BGR
    x = rgb if pre._channel_conversion else rgb[:, [2, 1, 0]]
    x = (x - pre.mean.view(1, -1, 1, 1)) / pre.std.view(1, -1, 1, 1)
    with torch.no_grad():
        (expected, ) = model.predict(x, [sample], rescale=False)
    expected = expected.pred_instances
    boxes, scores, labels = ort.InferenceSession(out, providers=['CPUExecutionProvider']).run(
        None, {'image': rgb.numpy()})
    assert len(scores) == len(expected.scores) == 100
    assert np.array_equal(labels, expected.labels.numpy())
    np.testing.assert_allclose(scores, expected.scores.numpy(), rtol=0, atol=1e-4)
    ref = expected.bboxes.numpy()
    assert (np.abs(boxes - ref) / np.maximum(np.abs(ref), 1.0)).max() <= 1e-3
