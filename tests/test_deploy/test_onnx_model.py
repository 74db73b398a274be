"""Exported models evaluated in onnxruntime: what they refuse before any
data is read."""
import numpy as np
import pytest
from mmengine.config import Config

from conftest import config_path
from fasternet_dense import cli
from fasternet_dense.deploy.onnx_model import check_onnx_file, onnx_model_cfg
from fasternet_dense.utils.errors import ConfigError, MissingFileError

SEG_T0 = config_path('semfpn_fasternet_t0_ade20k.py')


def test_evaluating_a_file_that_is_not_onnx_is_one_line(tmp_path, capsys):
    noise = tmp_path / 'random.onnx'
    noise.write_bytes(np.random.default_rng(0).bytes(3000))
    renamed = tmp_path / 'checkpoint.onnx'
    renamed.write_text('not a model\n')
    for path in (noise, renamed):
        assert cli.test_main([SEG_T0, str(path)]) == 2
        line = capsys.readouterr().err.strip()
        assert '\n' not in line and line.startswith(f'error: {path} is not an ONNX model (')
        assert line.endswith('pass a file written by tools/export_onnx.py, or a .pth '
                             'checkpoint.')


def test_a_missing_file_and_a_precision_the_backend_lacks_are_refused(tmp_path):
    with pytest.raises(MissingFileError, match='not found; write one with tools/export_onnx.py'):
        check_onnx_file(str(tmp_path / 'none.onnx'))
    cfg = Config.fromfile(config_path('maskrcnn_fasternet_t0_coco.py'))
    with pytest.raises(ConfigError, match='onnxruntime runs the file in fp32, not bf16; use '
                       '--backend openvino for bf16'):
        onnx_model_cfg(cfg, str(tmp_path / 'none.onnx'), 'onnxruntime', 'bf16')
    with pytest.raises(ConfigError, match='Unknown backend tensorrt; choose onnxruntime or '
                       'openvino.'):
        onnx_model_cfg(cfg, str(tmp_path / 'none.onnx'), 'tensorrt')


def test_runtime_options_for_a_checkpoint_are_one_line(tmp_path, capsys):
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    assert cli.test_main([SEG_T0, str(ckpt), '--backend', 'openvino']) == 2
    line = capsys.readouterr().err.strip()
    assert line == ('error: --backend and --precision choose how an ONNX file runs; for a '
                    '.pth checkpoint use --amp bf16.')


def test_bf16_is_refused_where_openvino_lacks_it(monkeypatch):
    """On a CPU without bf16 OpenVINO would run fp32 under the bf16 name."""
    import openvino as ov

    from fasternet_dense.deploy.onnx_model import check_backend
    monkeypatch.setattr(ov.Core, 'get_property', lambda self, device, key: ['FP32', 'INT8'])
    with pytest.raises(ConfigError, match=r'This CPU has no bf16 support that OpenVINO uses \(it '
                       r'offers FP32, INT8\); run fp32, or the int8 file.'):
        check_backend('openvino', 'bf16')
    check_backend('openvino', 'fp32')
