"""The installed stack: PyPI's torch with its torchvision, mmcv's compiled
ops, and the light backbones of mmpretrain and timm that the peers come
from. A broken install fails here, not in a user's hands."""
import pytest
import torch


def test_the_installed_stack_is_the_one_requirements_txt_pins():
    """Every ``name==version`` (or ``===``) of requirements.txt is what is
    installed (a local ``+cpu``/``+cu`` build tag aside)."""
    import os.path as osp
    import re
    from importlib.metadata import version
    from conftest import ROOT
    pins = []
    with open(osp.join(ROOT, 'requirements.txt')) as f:
        for line in f:
            match = re.match(r'^([A-Za-z0-9_.-]+)===?([^\s#;]+)', line.strip())
            if match:
                pins.append(match.groups())
    assert len(pins) >= 15
    for name, pinned in pins:
        assert version(name).split('+')[0] == pinned, name


def test_torchvision_loads_its_compiled_ops():
    from torchvision.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, iou_threshold=0.5).tolist() == [0, 2]


def test_mmcv_ops_are_compiled_for_this_torch():
    from mmcv.ops import RoIAlign, nms
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    out = RoIAlign((1, 1), 1.0, 0, aligned=False)(x, torch.tensor([[0., 0., 0., 3., 3.]]))
    assert out.item() == pytest.approx(x.mean().item())
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8]), iou_threshold=0.5)
    assert keep.tolist() == [0]


def feature_strides(model, size=64):
    model.eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, size, size))
    return [(out.shape[1], size // out.shape[-1]) for out in outs]


def build_from_mmdet(cfg):
    """Build as an mmdet config with ``custom_imports=['mmpretrain.models']``
    and ``type='mmpretrain.NAME'`` does."""
    import mmpretrain.models  # noqa: F401  (registers its modules)
    from mmdet.registry import MODELS
    return MODELS.build(cfg)


def test_an_mmpretrain_backbone_runs():
    model = build_from_mmdet(dict(type='mmpretrain.ShuffleNetV2', widen_factor=1.0,
                                  out_indices=(0, 1, 2)))
    assert feature_strides(model) == [(116, 8), (232, 16), (464, 32)]


def test_a_timm_backbone_runs_through_mmpretrain():
    model = build_from_mmdet(dict(type='mmpretrain.TIMMBackbone', model_name='mobilenetv1_100',
                                  features_only=True, pretrained=False,
                                  out_indices=(1, 2, 3, 4)))
    assert feature_strides(model) == [(128, 4), (256, 8), (512, 16), (1024, 32)]
