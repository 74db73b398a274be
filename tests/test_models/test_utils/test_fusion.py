"""Batch-norm folding: a conv followed by an eval-mode batch norm becomes one
conv with the same outputs; a norm without running statistics is refused."""
import pytest
import torch
import torch.nn as nn

from fasternet_dense.models.utils.fusion import (ChannelAffine, check_foldable, fold_into_conv,
                                                 fold_norm, foldable, fuse_conv_bn)
from fasternet_dense.utils.errors import ConfigError


def _trained_norm(channels, affine=True):
    norm = nn.BatchNorm2d(channels, affine=affine)
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        if affine:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-1, 1)
    return norm.eval()


@pytest.mark.parametrize('affine, bias', [(True, True), (True, False), (False, False)])
def test_folding_into_the_conv_keeps_the_outputs(affine, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=bias)
    norm = _trained_norm(6, affine)
    x = torch.randn(2, 4, 9, 7)
    with torch.no_grad():
        expected = norm(conv(x))
        folded = fold_into_conv(conv, norm)
        assert isinstance(folded, nn.Identity) and conv.bias is not None
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)


def test_an_output_norm_becomes_a_channel_affine_with_the_same_outputs():
    torch.manual_seed(0)
    norm = _trained_norm(5)
    x = torch.randn(2, 5, 4, 4)
    with torch.no_grad():
        affine = fold_norm(norm)
        assert isinstance(affine, ChannelAffine)
        torch.testing.assert_close(affine(x), norm(x), rtol=1e-5, atol=1e-5)


def test_fuse_conv_bn_folds_every_pair_in_a_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), _trained_norm(8), nn.ReLU(),
                          nn.Conv2d(8, 4, 1), _trained_norm(4)).eval()
    x = torch.randn(1, 3, 12, 12)
    with torch.no_grad():
        expected = model(x)
        fused = fuse_conv_bn(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
        torch.testing.assert_close(fused(x), expected, rtol=1e-5, atol=1e-5)


def test_a_norm_without_running_statistics_is_refused_and_left_as_it_was():
    norm = nn.BatchNorm2d(4, track_running_stats=False).eval()
    assert not foldable(norm) and foldable(_trained_norm(4))
    with pytest.raises(ConfigError, match=r'Cannot fold batch norm .* no running statistics'):
        check_foldable(nn.Sequential(nn.Conv2d(2, 4, 1), norm))
