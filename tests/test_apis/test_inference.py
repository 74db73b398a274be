"""Autocast of a detector's or segmentor's network with its post-processing
in fp32, and the check for processors that would only emulate bf16.

Autocast runs on any CPU (emulated where bf16 instructions are missing), so
these tests need no particular processor."""
import pytest
import torch
import torch.nn as nn
from conftest import config_path

from fasternet_dense.apis import inference
from fasternet_dense.apis.config import load_config
from fasternet_dense.apis.inference import (amp_emulated, autocast_network, build_model,
                                            fix_candidates, prepare_model)
from fasternet_dense.benchmark.batches import make_test_batches
from fasternet_dense.utils.errors import ConfigError, OptionError


def _toy_model(name: str):
    """A toy config's model (random weights, every score threshold 0 so
    boxes reach NMS and the mask head) and one synthetic 64x64 test batch."""
    cfg = load_config(config_path(f'{name}.py'))
    fix_candidates(cfg)
    model = prepare_model(build_model(cfg), fuse=True)
    batches, _ = make_test_batches(cfg, 1, 1, (64, 64), synthetic=True)
    return model, batches[0]


def _state(args) -> tuple:
    """Whether autocast is on, and the dtypes of the floating tensors in ``args``."""
    return (torch.is_autocast_enabled('cpu'),
            {a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()})


class Calls:
    """Wraps a function; records :func:`_state` of each call."""

    def __init__(self, func):
        self.func, self.seen = func, []

    def __call__(self, *args, **kwargs):
        self.seen.append(_state((*args, *kwargs.values())))
        return self.func(*args, **kwargs)


def _record_network_dtype(module: nn.Module, seen: list):
    """Record the output dtype of ``module``'s first convolution or linear layer."""
    layer = next(m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    layer.register_forward_hook(lambda m, a, out: seen.append(out.dtype))


def test_mask_rcnn_runs_its_network_in_bf16_and_nms_and_roialign_in_fp32(monkeypatch):
    """The traceback this guards against: mmcv's CPU NMS refusing bf16
    scores ('expected scalar type Float but found BFloat16')."""
    from mmdet.models.dense_heads import rpn_head
    from mmdet.models.roi_heads.bbox_heads import bbox_head
    from mmdet.models.roi_heads.mask_heads import fcn_mask_head
    model, data = _toy_model('maskrcnn_fasternet_t0_toycoco')
    names = autocast_network(model, 'bf16')
    assert names == ['backbone', 'neck', 'rpn_head', 'roi_head.bbox_head', 'roi_head.mask_head']
    rpn_nms = Calls(rpn_head.batched_nms)
    rcnn_nms = Calls(bbox_head.multiclass_nms)
    paste = Calls(fcn_mask_head._do_paste_mask)
    monkeypatch.setattr(rpn_head, 'batched_nms', rpn_nms)
    monkeypatch.setattr(bbox_head, 'multiclass_nms', rcnn_nms)
    monkeypatch.setattr(fcn_mask_head, '_do_paste_mask', paste)
    roi_align = []
    for extractor in (model.roi_head.bbox_roi_extractor, model.roi_head.mask_roi_extractor):
        extractor.roi_layers[0].register_forward_pre_hook(
            lambda module, args: roi_align.append(_state(args)))
    network = {}
    for name in ('backbone', 'rpn_head', 'roi_head.bbox_head', 'roi_head.mask_head'):
        _record_network_dtype(model.get_submodule(name), network.setdefault(name, []))
    with torch.inference_mode():
        (result, ) = model.test_step(data)
    assert all(seen and set(seen) == {torch.bfloat16} for seen in network.values()), network
    for calls in (rpn_nms.seen, rcnn_nms.seen, roi_align, paste.seen):
        assert calls and all(seen == (False, {torch.float32}) for seen in calls), calls
    pred = result.pred_instances
    assert len(pred) == 20  # the toy config's max_per_img, score threshold 0
    assert pred.bboxes.dtype == pred.scores.dtype == torch.float32
    assert pred.masks.dtype == torch.bool and pred.masks.shape[-2:] == (64, 64)
    assert not torch.is_autocast_enabled('cpu')


def test_rtmdet_scores_reach_nms_in_fp32(monkeypatch):
    from mmdet.models.dense_heads import base_dense_head
    model, data = _toy_model('rtmdet_fasternet_t0_toycoco')
    assert autocast_network(model, 'bf16') == ['backbone', 'neck', 'bbox_head']
    nms = Calls(base_dense_head.batched_nms)
    monkeypatch.setattr(base_dense_head, 'batched_nms', nms)
    network = []
    _record_network_dtype(model.bbox_head, network)
    with torch.inference_mode():
        (result, ) = model.test_step(data)
    assert set(network) == {torch.bfloat16}
    assert nms.seen and all(seen == (False, {torch.float32}) for seen in nms.seen)
    assert result.pred_instances.scores.dtype == torch.float32


def test_segmentor_logits_are_resized_and_argmaxed_in_fp32(monkeypatch):
    from mmseg.models.decode_heads import decode_head
    model, data = _toy_model('semfpn_fasternet_t0_toyade')
    names = autocast_network(model, 'bf16')
    # mmseg calls the decode head's forward as a method: its parts are hooked.
    assert names[:2] == ['backbone', 'neck'] and 'decode_head.conv_seg' in names
    assert not any('loss' in name for name in names)
    resize = Calls(decode_head.resize)
    monkeypatch.setattr(decode_head, 'resize', resize)
    network = []
    # Before the hook that hands the logits on in fp32.
    model.decode_head.conv_seg.register_forward_hook(
        lambda m, a, out: network.append(out.dtype), prepend=True)
    with torch.inference_mode():
        (result, ) = model.test_step(data)
    assert network == [torch.bfloat16]
    assert resize.seen == [(False, {torch.float32})]
    assert result.seg_logits.data.dtype == torch.float32
    assert result.pred_sem_seg.data.shape == (1, 64, 64)


def test_bf16_segmentation_agrees_with_fp32():
    model, data = _toy_model('semfpn_fasternet_t0_toyade')
    with torch.inference_mode():
        (fp32, ) = model.test_step(data)
        autocast_network(model, 'bf16')
        (bf16, ) = model.test_step(data)
    a, b = fp32.seg_logits.data, bf16.seg_logits.data
    # bf16 keeps 8 bits of mantissa: about 1% of the logits' range.
    assert (a - b).abs().max() <= 0.03 * a.abs().max()


def test_autocast_is_off_again_after_a_network_module_raises():
    model, data = _toy_model('semfpn_fasternet_t0_toyade')
    autocast_network(model, 'bf16')
    with pytest.raises(RuntimeError):
        model.backbone(torch.zeros(1, 5, 64, 64))  # 5 channels: the stem refuses
    assert not torch.is_autocast_enabled('cpu')


def test_a_model_without_network_modules_or_an_unknown_dtype_is_refused():
    with pytest.raises(ConfigError, match=r'^Linear has none of the modules autocast covers '
                       r'\(backbone, .*\); run it without amp\.$'):
        autocast_network(nn.Linear(2, 2), 'bf16')
    with pytest.raises(OptionError, match='^amp takes fp16 or bf16; got fp8.$'):
        autocast_network(nn.Linear(2, 2), 'fp8')


@pytest.mark.parametrize('flags, emulated', [
    ({'avx512f', 'avx512_bf16'}, False),
    ({'avx512f', 'amx_tile', 'amx_bf16'}, False),
    ({'fp', 'asimd', 'bf16'}, False),  # Arm
    ({'avx512f', 'avx2'}, True),
    (None, False),  # no /proc/cpuinfo: cannot tell, so no complaint
])
def test_bf16_is_emulated_only_without_bf16_instructions(monkeypatch, flags, emulated):
    monkeypatch.setattr(inference, 'cpu_flags', lambda: ('Old Xeon', flags))
    reason = amp_emulated('cpu', 'bf16')
    if emulated:
        assert reason == ('this processor (Old Xeon) has no bf16 instructions (none of the '
                          'flags avx512_bf16, amx_bf16, bf16), so autocast would emulate '
                          'bf16, slower than fp32 (many times without AVX-512)')
    else:
        assert reason is None


def test_this_processors_flags_are_read():
    name, flags = inference.cpu_flags()
    assert name
    try:
        with open('/proc/cpuinfo') as f:
            listed = any(line.startswith(('flags', 'Features')) for line in f)
    except OSError:
        listed = False
    assert (flags is not None) == listed
