"""bf16 autocast end to end on CPU: ``tools/test.py --amp bf16`` on the toy
detector and segmentor, ``tools/benchmark.py --amp bf16`` on the toy
detector. Where this processor has no bf16 instructions, the test tool warns
in one line and goes on, and the benchmark refuses in one line."""
import pickle

import torch
from conftest import as_argv, config_path, error_line, loader_options, run_tool, toy_coco_options

from fasternet_dense.apis.config import build_runner, load_config
from fasternet_dense.apis.inference import amp_emulated
from fasternet_dense.datasets.toydata import make_toy_ade, make_toy_coco

DET = config_path('maskrcnn_fasternet_t0_toycoco.py')
SEG = config_path('semfpn_fasternet_t0_toyade.py')
EMULATED = amp_emulated('cpu', 'bf16')


def _random_checkpoint(config, options, tmp_path):
    """A checkpoint of ``config``'s model with initialised random weights."""
    runner = build_runner(load_config(config, options, str(tmp_path / 'build')))
    runner.model.init_weights()
    path = tmp_path / 'random.pth'
    torch.save({'state_dict': runner.model.state_dict(), 'meta': {}}, path)
    return str(path)


def _check_amp_lines(stdout: str, modules: str):
    """The log names the autocast modules, and warns only where bf16 is emulated."""
    assert f'--amp bf16: autocast in {modules}; post-processing in fp32' in stdout
    if EMULATED:
        assert f'--amp bf16: {EMULATED}; the test goes on' in stdout
    else:
        assert 'would emulate' not in stdout


def test_test_tool_evaluates_the_toy_detector_in_bf16(tmp_path):
    root = tmp_path / 'toy_coco'
    make_toy_coco(str(root), num_train=2, num_val=4)
    # Score threshold 0: random weights still hand boxes to NMS and masks to pasting.
    options = toy_coco_options(root, **{'model.test_cfg.rcnn.score_thr': 0.0})
    ckpt = _random_checkpoint(DET, options, tmp_path)
    out = tmp_path / 'dets.pkl'
    proc = run_tool('test.py', DET, ckpt, '--amp', 'bf16', '--out', str(out),
                    '--work-dir', str(tmp_path / 'w'), *as_argv(options))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'coco/bbox_mAP' in proc.stdout and 'coco/segm_mAP' in proc.stdout
    _check_amp_lines(proc.stdout,
                     'backbone, neck, rpn_head, roi_head.bbox_head, roi_head.mask_head')
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 4
    for result in results:
        pred = result['pred_instances']
        assert len(pred['scores']) == 20  # the toy config's max_per_img
        assert pred['bboxes'].dtype == pred['scores'].dtype == torch.float32


def test_test_tool_evaluates_the_toy_segmentor_in_bf16(tmp_path):
    root = tmp_path / 'toy_ade'
    make_toy_ade(str(root), num_train=2, num_val=4)
    options = loader_options(root)
    ckpt = _random_checkpoint(SEG, options, tmp_path)
    proc = run_tool('test.py', SEG, ckpt, '--amp', 'bf16', '--work-dir', str(tmp_path / 'w'),
                    *as_argv(options))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mIoU' in proc.stdout
    _check_amp_lines(proc.stdout, 'backbone, neck, decode_head.conv_seg, decode_head.dropout, '
                     'decode_head.scale_heads.0, decode_head.scale_heads.1, '
                     'decode_head.scale_heads.2, decode_head.scale_heads.3')


def test_benchmark_times_the_toy_detector_in_bf16_or_says_why_not():
    proc = run_tool('benchmark.py', DET, '--fuse', '--amp', 'bf16', '--iters', '1',
                    '--warmup', '0', '--threads', '1', '--synthetic', '--shape', '64', '64')
    if EMULATED:
        assert error_line(proc) == (f'error: --amp bf16: {EMULATED}; time without --amp, or '
                                    'on a machine that has them.')
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert '[fuse, bf16]' in proc.stdout
