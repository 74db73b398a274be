"""ONNX export: backbone and Semantic FPN files checked with onnxruntime."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import ROOT, config_path, mount_tmpfs

from fasternet_dense.apis.config import load_config
from fasternet_dense.apis.inference import build_model
from fasternet_dense.cli.export import export_main
from fasternet_dense.deploy.export import ExportOptions, export_onnx
from fasternet_dense.deploy.wrappers import SegmentorForExport
from fasternet_dense.utils.errors import OptionError

SEG_T0 = osp.join(ROOT, 'configs/semfpn_fasternet_t0_ade20k.py')
DET_T0 = osp.join(ROOT, 'configs/maskrcnn_fasternet_t0_coco.py')
# Relative tolerance: max |onnxruntime - PyTorch| / max |PyTorch| over all outputs.
TOLERANCE = 1e-4
# The file holds the fp32 weights once, plus the graph.
MAX_SIZE_RATIO = 1.2


def _check(result):
    assert result['vs_exported']['relative'] <= TOLERANCE
    assert result['vs_reference']['relative'] <= TOLERANCE
    assert 0.95 <= result['size_ratio'] <= MAX_SIZE_RATIO
    # No in-place slice writes in the graph.
    assert 'ScatterND' not in result['ops'] and 'ScatterElements' not in result['ops']


@pytest.mark.parametrize('block_path', ['conv', 'matmul'])
def test_backbone_onnx_matches_pytorch_and_is_weight_sized(tmp_path, block_path):
    out = str(tmp_path / 'backbone.onnx')
    result = export_onnx(SEG_T0, out, options=ExportOptions(shape=(128, 128), backbone_only=True,
                                                            block_path=block_path))
    _check(result)
    assert result['outputs'] == ['feat0', 'feat1', 'feat2', 'feat3']
    assert result['vs_reference']['max_abs_ref'] > 0.1  # a non-trivial output
    # Fused: no BatchNormalization; t0 has 13 blocks.
    assert 'BatchNormalization' not in result['ops']
    if block_path == 'conv':
        assert result['ops']['Split'] == result['ops']['Concat'] == 13
        assert 'MatMul' not in result['ops']
    else:
        assert result['ops']['MatMul'] == 3 * 13


def test_semantic_fpn_onnx_gives_logits_at_input_size(tmp_path):
    import onnxruntime as ort
    out = str(tmp_path / 'semfpn.onnx')
    result = export_onnx(SEG_T0, out, options=ExportOptions(shape=(128, 128)))
    _check(result)
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    (logits, ) = session.run(None, {'image': np.zeros((1, 3, 128, 128), np.float32)})
    assert logits.shape == (1, 150, 128, 128)


@pytest.mark.parametrize('block_path', ['conv', 'matmul'])
def test_dynamic_export_runs_at_another_size(tmp_path, block_path):
    import onnxruntime as ort
    out = str(tmp_path / 'backbone_dynamic.onnx')
    export_onnx(SEG_T0, out, options=ExportOptions(shape=(64, 64), backbone_only=True, dynamic=True,
                                                   block_path=block_path))
    model = build_model(load_config(SEG_T0)).backbone.switch_to_deploy()
    x = torch.randn(2, 3, 96, 160)
    with torch.no_grad():
        expected = model(x)
    got = ort.InferenceSession(out, providers=['CPUExecutionProvider']).run(
        None, {'image': x.numpy()})
    assert [g.shape for g in got] == [tuple(e.shape) for e in expected]
    for g, e in zip(got, expected):
        assert np.abs(g - e.numpy()).max() <= TOLERANCE * e.abs().max().item()


def test_export_wrapper_equals_mmseg_inference():
    from mmseg.structures import SegDataSample
    model = build_model(load_config(SEG_T0))
    rgb = torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8)
    # mmseg's pipeline loads BGR; its data preprocessor flips and normalizes.
    sample = SegDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128)))
    data = model.data_preprocessor(dict(inputs=[rgb.flip(0)], data_samples=[sample]), False)
    with torch.no_grad():
        expected = model.encode_decode(data['inputs'], [sample.metainfo])
        got = SegmentorForExport(model).eval()(rgb[None].float())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_a_one_stage_detector_is_not_exported_with_dynamic_sizes(tmp_path, capsys):
    with pytest.raises(OptionError, match='A one-stage detector is exported for one input size'):
        export_onnx(config_path('rtmdet_fasternet_t0_toycoco.py'), str(tmp_path / 'det.onnx'),
                    options=ExportOptions(dynamic=True))
    assert export_main([SEG_T0, '--out', str(tmp_path / 'x.onnx'), '--shape', '16', '16']) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith('error: --shape')


@pytest.fixture
def read_only_folder(tmp_path):
    """A read-only tmpfs (root writes through permission bits, not through a
    read-only mount)."""
    yield from mount_tmpfs(tmp_path / 'ro', 'ro,size=64k')


def test_export_to_a_read_only_file_system_is_one_line_before_any_work(read_only_folder,
                                                                        capsys):
    out = read_only_folder / 'model.onnx'
    assert export_main([SEG_T0, '--out', str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: Cannot write {out}: Read-only file system in {read_only_folder}; choose an '
        'output path in a writable folder.')
