"""Speed tooling: benchmark structure and exactness, test batches, FLOP counts.

No speed is asserted: these check what the tools return, on tiny inputs.
"""
import os.path as osp
import statistics

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmengine.analysis import parameter_count
from fasternet_dense import FasterNet
from fasternet_dense.apis import inference
from fasternet_dense.apis.config import load_config
from fasternet_dense.apis.inference import build_model
from fasternet_dense.benchmark.batches import make_test_batches
from fasternet_dense.benchmark.benchmark import benchmark
from fasternet_dense.benchmark.complexity import backbone_flops, complexity, count_flops
from fasternet_dense.benchmark.formatting import format_benchmark
from fasternet_dense.benchmark.timing import summarize
from fasternet_dense.cli.benchmark import benchmark_main
from fasternet_dense.cli.flops import flops_main
from fasternet_dense.models.backbones.fasternet import reference_forward
from fasternet_dense.utils.errors import OptionError

from conftest import ROOT

SEG_T0 = osp.join(ROOT, 'configs/semfpn_fasternet_t0_ade20k.py')
DET_T0 = osp.join(ROOT, 'configs/maskrcnn_fasternet_t0_coco.py')
RTMDET_T0 = osp.join(ROOT, 'configs/rtmdet_fasternet_t0_coco.py')

# The paper's FasterNet-T0 ImageNet FLOPs (0.34G at 224x224) include the
# classifier: a 1x1 conv 320 -> 1280 on the pooled 1x1 map and a
# 1280 -> 1000 linear layer, 0.0017G together.
T0_IMAGENET_GFLOPS = 0.34
T0_HEAD_GFLOPS = (320 * 1280 + 1280 * 1000) / 1e9


def _resize_option(path, scale):
    """``--cfg-options`` entry that sets the test pipeline's Resize scale."""
    pipeline = Config.fromfile(path).test_dataloader.dataset.pipeline
    index = next(i for i, t in enumerate(pipeline) if t['type'].endswith('Resize'))
    return {f'test_dataloader.dataset.pipeline.{index}.scale': scale}


def _check_timings(model, iters):
    assert len(model['times_ms']) == iters
    assert all(t > 0 for t in model['times_ms'])
    assert model['median_ms'] == pytest.approx(statistics.median(model['times_ms']))
    assert (model['min_ms'] <= model['q1_ms'] <= model['median_ms'] <= model['q3_ms']
            <= model['max_ms'])


def test_summary_statistics():
    s = summarize([4.0, 1.0, 3.0, 2.0, 5.0], batch_size=2)
    assert s['median_ms'] == 3.0 and s['min_ms'] == 1.0 and s['max_ms'] == 5.0
    assert s['q1_ms'] == 2.0 and s['q3_ms'] == 4.0 and s['iqr_ms'] == 2.0
    assert s['fps'] == pytest.approx(2 * 1000 / 3.0)


def test_backbone_benchmark_fast_vs_plain_is_exact_and_consistent():
    result = benchmark(SEG_T0, vs=SEG_T0, vs_cfg_options={'model.backbone.fast_inference': False},
                       vs_plain=True, backbone_only=True, shape=(64, 96), batch_size=2,
                       iters=3, warmup=1, fuse=True, channels_last=True)
    assert result['mode'] == 'backbone'
    a, b = result['models']
    for m in (a, b):
        _check_timings(m, 3)
        assert m['fps'] == pytest.approx(2 * 1000.0 / m['median_ms'])
    assert a['fuse'] and a['channels_last'] and not b['fuse'] and not b['channels_last']
    assert b['weights'] == 'copied from A'
    assert result['ratio'] == pytest.approx(b['median_ms'] / a['median_ms'])
    # Fused fast channels-last path against the unfused paper path, same weights.
    assert result['outputs']['relative'] <= 1e-5
    assert result['settings']['input'] == 'random tensor 2x3x64x96'
    assert result['machine']['torch_threads'] >= 1 and result['machine']['cpu']


def test_backbone_benchmark_reports_flop_rates_against_a_reference_product():
    result = benchmark(SEG_T0, vs=SEG_T0, vs_cfg_options={'model.backbone.fast_inference': False},
                       vs_plain=True, backbone_only=True, shape=(64, 96), batch_size=2,
                       iters=2, warmup=0, fuse=True, peak=True)
    a, b = result['models']
    # B is the unfused model: exactly what get_flops counts, for two images.
    counted = complexity(SEG_T0, shape=(64, 96), whole_model=False)['backbone_flops']
    assert b['flops'] == 2 * counted
    # A has its batch norms folded away: the convolutions' FLOPs stay.
    assert 0.98 * b['flops'] < a['flops'] < b['flops']
    for m in (a, b):
        assert m['gmacs'] == pytest.approx(m['flops'] / m['median_ms'] * 1000 / 1e9)
    assert result['reference']['gmacs'] > 0
    text = format_benchmark(result)
    floor_a = a['flops'] / (result['reference']['gmacs'] * 1e9) * 1000
    assert f"would be {b['median_ms'] / floor_a:.2f}x as fast as B" in text
    assert 'GMAC/s' in text.splitlines()[6]


def test_flop_count_leaves_the_fast_path_on():
    backbone = FasterNet('t0').eval()
    flops = backbone_flops(backbone, torch.randn(1, 3, 64, 64))
    assert flops == complexity(SEG_T0, shape=(64, 64), whole_model=False)['backbone_flops']
    blocks = [m for m in backbone.modules() if hasattr(m, 'fast_inference')]
    assert blocks and all(m.fast_inference for m in blocks)


def test_peak_needs_backbone_mode(capsys):
    """The library names its own option; the tool names its flag."""
    with pytest.raises(OptionError, match=r'^peak=True compares FLOP rates of the backbone '
                       r'alone \(backbone_only\)\.$'):
        benchmark(SEG_T0, peak=True)
    assert benchmark_main([SEG_T0, '--peak']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --peak compares FLOP rates of the backbone alone (backbone_only).')


@pytest.mark.parametrize('channels_last', [False, True])
def test_backbone_benchmark_under_bf16_autocast(monkeypatch, channels_last):
    # The fast path's in-place products must follow autocast's dtype. The
    # numbers, not the speed, are checked: any CPU may emulate bf16 here.
    monkeypatch.setattr(inference, 'cpu_flags', lambda: ('CPU', {'avx512_bf16'}))
    result = benchmark(SEG_T0, vs=SEG_T0, vs_plain=True, backbone_only=True, shape=(64, 64),
                       iters=1, warmup=0, fuse=True, channels_last=channels_last, amp='bf16')
    assert result['models'][0]['amp'] == 'bf16' and result['models'][1]['amp'] is None
    # bf16 keeps 8 bits of mantissa: about 1% against fp32.
    assert result['outputs']['relative'] <= 0.03


def test_whole_segmentor_benchmark_runs_test_step():
    result = benchmark(SEG_T0, cfg_options=_resize_option(SEG_T0, (128, 128)), shape=(96, 128),
                       synthetic=True, iters=2, warmup=1)
    assert result['mode'] == 'model' and 'ratio' not in result
    (model, ) = result['models']
    _check_timings(model, 2)
    assert model['fps'] == pytest.approx(1000.0 / model['median_ms'])
    assert model['params'] > parameter_count(FasterNet('t0'))['']
    assert 'synthetic 96x128' in result['settings']['input']
    assert 'first network input 96x128' in result['settings']['input']


def test_whole_detector_benchmark_interleaves_two_models():
    small = dict(_resize_option(DET_T0, (160, 96)), **{
        'model.test_cfg.rpn.nms_pre': 200, 'model.test_cfg.rpn.max_per_img': 50,
        'model.test_cfg.rcnn.max_per_img': 5})
    result = benchmark(DET_T0, cfg_options=small, vs=DET_T0, vs_cfg_options=small,
                       shape=(96, 160), synthetic=True, iters=2, warmup=1, fuse=True)
    a, b = result['models']
    for m in (a, b):
        _check_timings(m, 2)
        # Random weights: the RoI score threshold is lifted so masks are pasted.
        assert m['candidates'] == ['model.test_cfg.rcnn.score_thr: 0.05 -> 0.0 '
                                   '(max_per_img 5)']
    assert result['ratio'] == pytest.approx(b['median_ms'] / a['median_ms'])


@pytest.mark.parametrize('config, options', [
    (DET_T0, {'model.test_cfg.rpn.nms_pre': 200, 'model.test_cfg.rpn.max_per_img': 50,
              'model.test_cfg.rcnn.max_per_img': 5}),
    (RTMDET_T0, {'model.test_cfg.nms_pre': 200, 'model.test_cfg.max_per_img': 5}),
])
def test_whole_detector_benchmark_under_bf16_autocast(monkeypatch, config, options):
    """Under bf16 the detector's NMS and RoIAlign (mmcv's, fp32 only on CPU)
    still get fp32 inputs. Autocast runs on any CPU, so the check for bf16
    instructions is told this one has them."""
    monkeypatch.setattr(inference, 'cpu_flags', lambda: ('CPU', {'avx512_bf16'}))
    small = dict(_resize_option(config, (160, 96)), **options)
    result = benchmark(config, cfg_options=small, shape=(96, 160), synthetic=True, iters=1,
                       warmup=0, fuse=True, amp='bf16')
    (model, ) = result['models']
    assert model['amp'] == 'bf16'
    _check_timings(model, 1)
    heads = ('rpn_head, roi_head.bbox_head, roi_head.mask_head' if config == DET_T0
             else 'bbox_head')
    assert (f"note: A's bf16 autocast covers backbone, neck, {heads}; its post-processing "
            'runs in fp32') in format_benchmark(result).splitlines()


def test_bf16_a_processor_would_emulate_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(inference, 'cpu_flags', lambda: ('Old Xeon', {'avx512f'}))
    assert benchmark_main([SEG_T0, '--amp', 'bf16', '--iters', '1']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --amp bf16: this processor (Old Xeon) has no bf16 instructions (none of the '
        'flags avx512_bf16, amx_bf16, bf16), so autocast would emulate bf16, slower than '
        'fp32 (many times without AVX-512); time without --amp, or on a machine that has them.')


def test_real_test_images_are_used_when_present(tmp_path):
    folder = tmp_path / 'images' / 'validation'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, size in enumerate([(64, 96), (80, 64), (48, 48)]):
        cv2.imwrite(str(folder / f'img{i}.jpg'), rng.integers(0, 255, (*size, 3), np.uint8))
    cfg = Config.fromfile(SEG_T0)
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    cfg.test_dataloader.dataset.data_prefix = dict(img_path='images/validation',
                                                   seg_map_path='annotations/validation')
    batches, source = make_test_batches(cfg, batch_size=2, num_batches=2)
    assert source.startswith(f'2 real images from {folder}')
    assert len(batches) == 2 and all(len(b['inputs']) == 2 for b in batches)
    # Segmentation batches repeat one image; the first is 64x96, resized by 8.
    assert [tuple(t.shape) for t in batches[0]['inputs']] == [(3, 512, 768)] * 2
    assert batches[1]['data_samples'][0].img_path.endswith('img1.jpg')


def test_bad_input_is_a_one_line_error(capsys):
    assert benchmark_main([SEG_T0, '--backbone-only', '--shape', '0', '64']) == 2
    assert benchmark_main(['configs/no_such_config.py']) == 2
    assert flops_main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith('error: ') for line in err)
    assert '--shape' in err[0] and 'not found' in err[1]
    with pytest.raises(OptionError, match='^amp takes fp16 or bf16; got fp8'):
        benchmark(SEG_T0, backbone_only=True, amp='fp8')


def test_t0_backbone_flops_match_the_paper_without_classifier():
    result = complexity(SEG_T0, shape=(224, 224), whole_model=False)
    # Tolerance 2%: the paper prints two decimals (0.335-0.345G) and counts
    # no output norms (4 BN layers, 0.5M FLOPs here).
    expected = T0_IMAGENET_GFLOPS - T0_HEAD_GFLOPS
    assert abs(result['backbone_flops'] / 1e9 - expected) / expected < 0.02
    assert result['backbone_params'] == parameter_count(FasterNet('t0'))['']


def test_whole_segmentor_flops_are_the_sum_of_its_parts_counted_alone():
    result = complexity(SEG_T0, shape=(128, 128))
    parts = result['by_module']
    assert {'backbone', 'neck', 'decode_head'} <= set(parts) <= {'backbone', 'neck',
                                                                'decode_head', 'other'}
    assert result['proposals'] is None
    # Each part traced on its own, on the input the whole model gives it.
    model = build_model(load_config(SEG_T0))
    x = torch.randn(1, 3, 128, 128)
    with reference_forward(model), torch.no_grad():
        feats = model.backbone(x)
        fpn = model.neck(feats)
        alone = dict(backbone=count_flops(model.backbone, (x, ))[0],
                     neck=count_flops(model.neck, (feats, ))[0],
                     decode_head=count_flops(model.decode_head, (fpn, ))[0])
    assert sum(alone.values()) == result['flops']
    assert parts['backbone'] == alone['backbone'] == result['backbone_flops']
    assert parts['neck'] == alone['neck']
    # The head's upsampling runs in its forward, called as a method by the
    # segmentor, so the whole-model trace books it under 'other'.
    assert parts['decode_head'] + parts.get('other', 0) == alone['decode_head']


@pytest.mark.parametrize('args, message', [
    (['--threads', '0'], "--threads 0 is out of range: give 1 or more (leave it out for "
     "torch's default, "),
    (['--threads', '-3'], '--threads -3 is out of range: give 1 or more'),
    (['--iters', '0'], '--iters 0 is out of range: give 1 or more.'),
    (['--warmup', '-1'], '--warmup -1 is out of range: give 0 or more.'),
    (['--batch-size', '0'], '--batch-size 0 is out of range: give 1 or more.'),
    (['--shape', '0', '64'], '--shape takes two integers H W, each >= 32; got 0 64.'),
])
def test_benchmark_refuses_counts_it_cannot_time_with(capsys, args, message):
    """Each is refused in one line before any model is built, instead of
    being replaced by a default the header then misreports."""
    assert benchmark_main([SEG_T0, *args]) == 2
    assert capsys.readouterr().err.strip().startswith('error: ' + message)
