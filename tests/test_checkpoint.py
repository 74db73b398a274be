"""Checkpoint layouts (official, timm, native, mmdet 2.x detector), safe loading,
and damaged or foreign checkpoints refused by tools/test.py in one line."""
import os.path as osp

import pytest
import numpy as np
import torch
import torch.nn as nn

from fasternet_dense import CheckpointMismatchError, FasterNet, UnsafeCheckpointError
from fasternet_dense.models.backbones.fasternet import load_pretrained_state_dict

from conftest import (OUT_NORM, ROOT, as_argv, error_line, loader_options, native_to_official,
                      run_tool)


def imagenet_classifier(model):
    last = model.channels[-1]
    return {'avgpool_pre_head.1.weight': torch.randn(1280, last, 1, 1),
            'head.weight': torch.randn(1000, 1280), 'head.bias': torch.randn(1000)}


def source_model(arch='t0', seed=1):
    torch.manual_seed(seed)
    model = FasterNet(arch)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for name, buf in model.named_buffers():
            if 'running_var' in name:
                buf.uniform_(0.5, 2.0)
    return model


def assert_backbone_equal(loaded, source, skip_out_norms=False):
    src = source.state_dict()
    for key, value in loaded.state_dict().items():
        if skip_out_norms and OUT_NORM.match(key):
            continue
        assert torch.equal(value, src[key]), key


@pytest.mark.parametrize('wrap', ['plain', 'state_dict', 'model', 'model_prefix'])
def test_official_imagenet_layout_loads(tmp_path, wrap):
    source = source_model()
    sd = native_to_official(source.state_dict())
    sd.update(imagenet_classifier(source))
    if wrap == 'state_dict':
        sd = {'state_dict': sd, 'epoch': 299}
    elif wrap == 'model':
        sd = {'model': sd}
    elif wrap == 'model_prefix':
        sd = {'state_dict': {f'model.{k}': v for k, v in sd.items()}}
    path = tmp_path / 'fasternet_t0-epoch.281-val_acc1.71.9180.pth'
    torch.save(sd, path)

    model = FasterNet('t0')
    result = model.load_state_dict(load_pretrained_state_dict(str(path)), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith('num_batches_tracked')]
    assert result.unexpected_keys == []
    assert missing and all(OUT_NORM.match(k) for k in missing)
    assert {OUT_NORM.match(k).group(1) for k in missing} == {'0', '1', '2', '3'}
    assert_backbone_equal(model, source, skip_out_norms=True)


def test_init_cfg_pretrained_loads_official_weights(tmp_path):
    source = source_model()
    sd = native_to_official(source.state_dict())
    sd.update(imagenet_classifier(source))
    path = tmp_path / 'imagenet.pth'
    torch.save({'state_dict': sd}, path)
    model = FasterNet('t0', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert_backbone_equal(model, source, skip_out_norms=True)
    # The output norms were not in the file: they keep the fresh initialisation.
    assert torch.equal(model.norm0.weight, torch.ones_like(model.norm0.weight))


def test_timm_layout_loads(tmp_path):
    source = source_model('t1')
    sd = {k: v for k, v in source.state_dict().items() if not OUT_NORM.match(k)}
    sd['conv_head.weight'] = torch.randn(1280, 512, 1, 1)
    sd['classifier.weight'] = torch.randn(1000, 1280)
    sd['classifier.bias'] = torch.randn(1000)
    path = tmp_path / 'timm.pth'
    torch.save(sd, path)
    model = FasterNet('t1')
    result = model.load_state_dict(load_pretrained_state_dict(str(path)), strict=False)
    assert result.unexpected_keys == []
    assert all(OUT_NORM.match(k) for k in result.missing_keys)
    assert_backbone_equal(model, source, skip_out_norms=True)


def test_native_layout_loads_with_nothing_missing(tmp_path):
    source = source_model()
    path = tmp_path / 'native.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()},
                'meta': {'epoch': 3}}, path)
    model = FasterNet('t0')
    result = model.load_state_dict(load_pretrained_state_dict(str(path)), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert_backbone_equal(model, source)


class TinyDetector(nn.Module):
    """A backbone under ``backbone.`` and something else beside it, like
    an mmdet detector's state dict."""

    def __init__(self, arch='t0'):
        super().__init__()
        self.backbone = FasterNet(arch)
        self.neck = nn.Conv2d(40, 8, 1)


def test_official_mmdet2_detector_checkpoint_loads_strictly(tmp_path):
    from mmengine.runner import load_checkpoint
    source = source_model()
    sd = {f'backbone.{k}': v for k, v in native_to_official(
        source.state_dict(), with_out_norms=True).items()}
    neck = nn.Conv2d(40, 8, 1)
    sd.update({f'neck.{k}': v for k, v in neck.state_dict().items()})
    assert 'backbone.norm6.weight' in sd and 'backbone.stages.5.reduction.weight' in sd
    path = tmp_path / 'mask_rcnn_fasternet_t0_fpn_1x_coco.pth'
    torch.save({'state_dict': sd, 'meta': {'CLASSES': ('a', 'b'), 'epoch': 12}}, path)

    detector = TinyDetector()
    ckpt = torch.load(path, weights_only=True)
    result = detector.load_state_dict(ckpt['state_dict'], strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert_backbone_equal(detector.backbone, source)

    # The same through mmengine's loader (what load_from and tools/test.py use).
    detector = TinyDetector()
    load_checkpoint(detector, str(path), map_location='cpu', strict=True)
    assert_backbone_equal(detector.backbone, source)
    assert torch.equal(detector.neck.weight, neck.weight)


def test_checkpoint_of_another_arch_is_a_clear_error(tmp_path):
    path = tmp_path / 't0.pth'
    torch.save(native_to_official(source_model('t0').state_dict()), path)
    model = FasterNet('s')
    with pytest.raises(CheckpointMismatchError) as err:
        model.load_state_dict(load_pretrained_state_dict(str(path)), strict=False)
    message = str(err.value)
    assert "arch 's'" in message and "(arch 't0')" in message
    assert 'patch_embed.proj.weight: checkpoint (40, 3, 4, 4) vs model (128, 3, 4, 4)' in message


def test_missing_pretrained_file_says_where_and_how(tmp_path):
    model = FasterNet('t0', init_cfg=dict(type='Pretrained',
                                          checkpoint=str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match='nope.pth not found.*init_cfg=None'):
        model.init_weights()


# ------------------------------------------------------------------ safe loading
class Payload:
    """Pickles to a call that would create a marker file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_foreign_pickled_object_is_refused_and_not_run(tmp_path):
    from mmengine.runner import CheckpointLoader
    marker = tmp_path / 'marker'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': Payload(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'Refused to load .*evil\.pth.*pickled object io\.open'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(UnsafeCheckpointError):
        load_pretrained_state_dict(str(path))
    assert not marker.exists()


class AttributePayload:
    """Pickles to ``getattr(numpy.ndarray, 'tofile')``: a lookup outside the
    statistics methods that mmengine's log buffers need."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_beyond_log_buffer_methods_is_refused(tmp_path):
    path = tmp_path / 'attr.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': AttributePayload()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'attr\.pth.*builtins\.getattr'):
        load_pretrained_state_dict(str(path))


def _tiny_runner(work_dir, max_iters, resume=False):
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Net(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, inputs, labels=None, mode='loss'):
            inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
            return dict(loss=(self.linear(inputs).squeeze(1) - labels.float()).square().mean())

    data = [dict(inputs=torch.randn(2), labels=torch.tensor(1.0)) for _ in range(8)]
    return Runner(
        model=Net(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        resume=resume, default_scope='mmengine', experiment_name=f'exp{max_iters}')


def test_mmengine_checkpoint_resumes_with_safe_loading(tmp_path):
    runner = _tiny_runner(tmp_path, max_iters=2)
    runner.train()
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.exists()
    # Plain safe loading does not know mmengine's log buffers...
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(ckpt, weights_only=True)
    # ...the allow-list does, and resuming goes through it.
    resumed = _tiny_runner(tmp_path, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert (tmp_path / 'iter_4.pth').exists()


@pytest.fixture(scope='module')
def small_toy_ade(tmp_path_factory):
    from fasternet_dense.datasets.toydata import make_toy_ade
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(str(root), num_train=8, num_val=8)
    return root


def _full_checkpoint(config, path, options=None):
    """A checkpoint holding every weight of ``config``'s model (random)."""
    from fasternet_dense.apis.inference import build_model
    from fasternet_dense.apis.config import load_config
    model = build_model(load_config(config, options))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_a_truncated_checkpoint_given_to_test_is_one_line(tmp_path):
    good = _full_checkpoint('semfpn_fasternet_t0_toyade', tmp_path / 'seg.pth')
    data = good.read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    line = error_line(run_tool('test.py', 'configs/semfpn_fasternet_t0_toyade.py', str(cut)))
    assert line.startswith(f'error: Checkpoint {cut} (tools/test.py) is truncated or corrupt')
    assert 'cannot be loaded' in line


def test_a_detector_checkpoint_for_a_segmentor_is_refused_unless_allowed(small_toy_ade,
                                                                          tmp_path):
    det = _full_checkpoint('maskrcnn_fasternet_t0_toycoco', tmp_path / 'maskrcnn.pth')
    options = as_argv(loader_options(small_toy_ade))
    args = ('configs/semfpn_fasternet_t0_toyade.py', str(det), '--work-dir', str(tmp_path / 'w'))
    proc = run_tool('test.py', *args, *options)
    # The message is the last line, after the libraries' warnings while building.
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f'error: Checkpoint {det} lacks 44 of the 60 weights')
    assert 'decode_head (44 of 44)' in line  # the toy FPNs agree, the head is absent
    assert 'it looks like a two-stage detector (Mask R-CNN-like' in line
    assert '--allow-partial-checkpoint' in line
    proc = run_tool('test.py', *args, '--allow-partial-checkpoint', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mIoU' in proc.stdout
    # The segmentor's own checkpoint passes the check.
    own = _full_checkpoint('semfpn_fasternet_t0_toyade', tmp_path / 'seg.pth')
    proc = run_tool('test.py', args[0], str(own), '--work-dir', str(tmp_path / 'w'), *options)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_text_file_renamed_pth_is_not_a_checkpoint(tmp_path, capsys):
    from fasternet_dense import cli
    from fasternet_dense.engine.runner.checkpoints import checkpoint_problem
    path = tmp_path / 'weights.pth'
    path.write_text('epoch 12, mAP 0.41\n')
    assert checkpoint_problem(str(path)) == (
        "not a checkpoint (torch writes a zip archive, or a pickle before torch 1.6; this "
        "file starts with b'epoch 12, mA')")
    config = osp.join(ROOT, 'configs', 'semfpn_fasternet_t0_ade20k.py')
    assert cli.test_main([config, str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {path} (tools/test.py) is not a checkpoint (torch writes a zip archive, or a "
        "pickle before torch 1.6; this file starts with b'epoch 12, mA'); pass a .pth file "
        'written by tools/train.py or a FasterNet release checkpoint.')
