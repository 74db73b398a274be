"""SqueezeNet backbone: torchvision's feature network and maps, its
checkpoint loaded as it is, the padded stem that RTMDet's neck needs."""
import pytest
import torch
import torchvision
from mmengine.registry import MODELS
from torchvision.models.feature_extraction import create_feature_extractor

from fasternet_dense import SqueezeNet
from fasternet_dense.models.backbones.squeezenet import ARCHS
from fasternet_dense.utils.errors import ConfigError


def test_outputs_equal_torchvisions_feature_extractor():
    """Same weights, same maps as torchvision's own extractor on
    ``features.4/7/12``: 128, 256 and 512 channels at strides 4, 8 and 16,
    each a pixel or two short (224 -> 55, 27, 13)."""
    torch.manual_seed(0)
    theirs = torchvision.models.squeezenet1_1(weights=None).eval()
    ours = SqueezeNet().eval()
    ours.features.load_state_dict(theirs.features.state_dict())
    extractor = create_feature_extractor(
        theirs, return_nodes={f'features.{i}': str(i) for i in (4, 7, 12)})
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        outs, expected = ours(x), list(extractor(x).values())
    assert [tuple(o.shape) for o in outs] == [(2, 128, 55, 55), (2, 256, 27, 27),
                                              (2, 512, 13, 13)]
    for a, b in zip(outs, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_padded_stem_gives_exact_strides():
    model = SqueezeNet(stem_padding=1).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 128, 160))
    assert [tuple(o.shape[2:]) for o in outs] == [(32, 40), (16, 20), (8, 10)]


@pytest.mark.parametrize('arch', list(ARCHS))
def test_each_variant_gives_its_table_channels_at_strides_4_8_16(arch):
    model = SqueezeNet(arch=arch).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 224, 224))
    assert tuple(o.shape[1] for o in outs) == ARCHS[arch][2]


def test_chosen_indices():
    assert [o.shape[1] for o in SqueezeNet(out_indices=(12, ))(torch.randn(1, 3, 64, 64))] == [512]


def test_torchvisions_checkpoint_loads_through_init_cfg(tmp_path):
    torch.manual_seed(1)
    theirs = torchvision.models.squeezenet1_1(weights=None)
    path = tmp_path / 'squeezenet1_1.pth'
    torch.save(theirs.state_dict(), path)  # classifier.* included, as torchvision ships it
    model = MODELS.build(dict(type='SqueezeNet', init_cfg=dict(type='Pretrained',
                                                               checkpoint=str(path))))
    model.init_weights()
    ours = model.state_dict()
    assert set(ours) == {k for k in theirs.state_dict() if k.startswith('features.')}
    assert all(torch.equal(v, theirs.state_dict()[k]) for k, v in ours.items())


@pytest.mark.parametrize('kwargs, message', [
    (dict(arch='1_2'), "unknown arch '1_2'; known: 1_0, 1_1"),
    (dict(out_indices=(4, 13)), 'must index its 13 feature layers'),
    (dict(out_indices=()), 'must index its 13 feature layers'),
])
def test_bad_arguments_say_what_is_known(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace('(', r'\(')):
        SqueezeNet(**kwargs)
