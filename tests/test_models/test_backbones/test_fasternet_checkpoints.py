"""FasterNet loads every checkpoint layout users have: official ImageNet,
timm, native, and official mmdet 2.x detectors; another arch is one clear
error."""

import pytest
import torch
import torch.nn as nn
from conftest import OUT_NORM, native_to_official

from fasternet_dense import CheckpointMismatchError, FasterNet
from fasternet_dense.models.backbones.fasternet import load_pretrained_state_dict


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
