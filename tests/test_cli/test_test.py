"""``tools/test.py``'s command line: the metrics table and what it refuses
before anything is built."""
import logging

from conftest import config_path
from mmengine.logging import MMLogger

from fasternet_dense.apis import inference
from fasternet_dense.apis.config import load_config
from fasternet_dense.apis.inference import build_model
from fasternet_dense.cli.test import _autocast, format_metrics
from fasternet_dense.cli.test import test_main as run_test_tool


def test_metrics_print_as_two_aligned_columns():
    table = format_metrics({'coco/bbox_mAP': 0.41234, 'coco/bbox_mAP_50': 0.6, 'epoch': 12,
                            'per_class': [0.1, 0.2]})
    assert table.splitlines() == ['coco/bbox_mAP     0.4123', 'coco/bbox_mAP_50  0.6000',
                                  'epoch             12']


def test_a_detection_dump_must_be_a_pickle_file(tmp_path, capsys):
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    config = config_path('maskrcnn_fasternet_t0_toycoco.py')
    assert run_test_tool([config, str(ckpt), '--out', str(tmp_path / 'dets.json')]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: --out {tmp_path / "dets.json"} must end with .pkl for detection.')


def test_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert run_test_tool([config_path('semfpn_fasternet_t0_ade20k.py'),
                      str(tmp_path / 'none.pth')]) == 2
    assert capsys.readouterr().err.strip().startswith(
        f'error: Checkpoint {tmp_path / "none.pth"} not found;')


def test_amp_with_an_onnx_file_is_one_line(tmp_path, capsys):
    onnx = tmp_path / 'seg.onnx'
    onnx.write_bytes(b'')
    assert run_test_tool([config_path('semfpn_fasternet_t0_toyade.py'), str(onnx),
                          '--amp', 'bf16']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --amp autocasts a PyTorch model; an ONNX file runs in the precision it was '
        'exported in: leave out --amp.')


def test_amp_on_a_processor_without_bf16_warns_in_one_line_and_goes_on(monkeypatch):
    """The metrics of emulated bf16 are still bf16's, so the test runs; the
    warning says why it is slow."""
    monkeypatch.setattr(inference, 'cpu_flags', lambda: ('Old Xeon', {'avx512f'}))
    model = build_model(load_config(config_path('semfpn_fasternet_t0_toyade.py')))
    logger = MMLogger.get_instance('amp_without_bf16')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        _autocast(model, 'bf16', logger)
    finally:
        logger.removeHandler(handler)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warnings == [
        '--amp bf16: this processor (Old Xeon) has no bf16 instructions (none of the flags '
        'avx512_bf16, amx_bf16, bf16), so autocast would emulate bf16, slower than fp32 (many '
        "times without AVX-512); the test goes on, its metrics are bf16's."]
    assert model.backbone._forward_pre_hooks  # autocast is on all the same


def test_tta_wraps_the_model_and_evaluates(tmp_path):
    """``--tta``: the config's tta_model around its model, its tta_pipeline
    as the test pipeline, and a whole evaluation through it."""
    import torch
    from conftest import as_argv, loader_options, run_tool

    from fasternet_dense.cli.test import prepare_test_config, test_parser
    from fasternet_dense.datasets.toydata import make_toy_ade
    config = config_path('semfpn_fasternet_t0_toyade.py')
    make_toy_ade(str(tmp_path / 'ade'), num_train=1, num_val=2, image_size=64)
    options = loader_options(tmp_path / 'ade')
    ckpt = tmp_path / 'seg.pth'
    torch.save({'state_dict': build_model(load_config(config, options)).state_dict()}, ckpt)
    argv = [config, str(ckpt), '--tta', '--work-dir', str(tmp_path / 't'), *as_argv(options)]
    cfg = prepare_test_config(test_parser().parse_args(argv))
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module.type == 'EncoderDecoder'
    assert cfg.test_dataloader.dataset.pipeline[1].type == 'TestTimeAug'
    proc = run_tool('test.py', *argv)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-2].startswith('mIoU')


def test_tta_without_a_tta_model_is_one_line(tmp_path, capsys):
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    assert run_test_tool([config_path('maskrcnn_fasternet_t0_toycoco.py'), str(ckpt),
                          '--tta']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --tta needs tta_model and tta_pipeline in the config (see '
        'configs/_base_/semantic_fpn_ade20k.py or rtmdet_l_coco.py).')
