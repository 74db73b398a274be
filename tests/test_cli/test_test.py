"""``tools/test.py``'s command line: the metrics table and what it refuses
before anything is built."""
from conftest import config_path
from fasternet_dense.cli.test import format_metrics
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
