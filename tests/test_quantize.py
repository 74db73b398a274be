"""int8 ONNX: export with onnxruntime's static quantisation calibrated on the
config's own images, evaluation of an ONNX file with the config's test set
and metrics, and timing ONNX files beside the PyTorch model."""
import json

import numpy as np
import pytest
import torch

from conftest import as_argv, config_path, error_line, loader_options, run_tool
from fasternet_dense.export import export_onnx, fp32_name
from fasternet_dense.inference import build_model
from fasternet_dense.quantize import calibration_images, cosine
from fasternet_dense.runner import build_runner, load_config
from fasternet_dense.toydata import make_toy_ade

TOY_SEG = config_path('semfpn_fasternet_t0_toyade.py')


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
    result = export_onnx(TOY_SEG, out, ckpt, shape=(128, 128), cfg_options=options, int8=True,
                         calib=8)
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
        result = export_onnx(config_path('semfpn_fasternet_t0_ade20k.py'), out, shape=(64, 64),
                             backbone_only=True, int8=True, calib=2, per_channel=False,
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
    export_onnx(TOY_SEG, out, ckpt, shape=(128, 128), cfg_options=options)
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


def test_an_onnx_file_for_a_detector_config_is_refused_in_one_line(tmp_path):
    fake = tmp_path / 'det.onnx'
    fake.write_bytes(b'')
    line = error_line(run_tool('test.py', 'configs/maskrcnn_fasternet_t0_toycoco.py',
                               str(fake)))
    assert 'provided for Semantic FPN' in line and '--backbone-only' in line


def test_benchmark_times_onnx_files_beside_the_pytorch_model(tmp_path):
    out = str(tmp_path / 'bb.onnx')
    export_onnx(TOY_SEG, out, shape=(64, 64), backbone_only=True)
    proc = run_tool('benchmark.py', TOY_SEG, '--onnx', out, '--backbone-only', '--iters', '2',
                    '--warmup', '0', '--threads', '1', '--json', str(tmp_path / 'r.json'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / 'r.json').read_text())
    assert [m['label'] for m in result['models']] == ['PyTorch', 'bb.onnx']
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
