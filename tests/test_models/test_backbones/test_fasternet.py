"""FasterNet backbone: architecture, knobs, registries, fast path, fusion."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.analysis import parameter_count
from conftest import ROOT, config_path
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from fasternet_dense import (ARCH_SETTINGS, ConfigError, FasterNet, imagenet_head_parameters)
from fasternet_dense.models.backbones.fasternet import reference_forward

ARCHS = list(ARCH_SETTINGS)

# The paper's ImageNet parameter counts (millions, classifier included).
PAPER_IMAGENET_PARAMS_M = {'t0': 3.9, 't1': 7.6, 't2': 15.0, 's': 31.1, 'm': 53.5, 'l': 93.5}


def randomize_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every batch norm non-trivial statistics and affine parameters, so
    that equality tests exercise the folding arithmetic."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            n = module.num_features
            if module.track_running_stats:
                module.running_mean.copy_(torch.rand(n, generator=gen) * 0.2 - 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.data.copy_(torch.rand(n, generator=gen) * 0.2 - 0.1)


def backbone_without_out_norms(model: FasterNet) -> int:
    out_norms = sum(parameter_count(getattr(model, f'norm{i}'))[''] for i in model.out_indices)
    return parameter_count(model)[''] - out_norms


@pytest.mark.parametrize('arch', ARCHS)
def test_parameter_count_matches_paper(arch):
    model = FasterNet(arch)
    # The dense backbone is the ImageNet model without its classifier head
    # (1x1 conv 8c -> 1280 and a 1280 -> 1000 linear layer) plus output norms.
    # The paper prints one decimal; five arches round to it exactly, S is
    # 31.18M (the official code and timm give the same) against a printed
    # 31.1M, so the check allows 0.1M.
    imagenet_total = backbone_without_out_norms(model) + imagenet_head_parameters(arch)
    assert abs(imagenet_total / 1e6 - PAPER_IMAGENET_PARAMS_M[arch]) <= 0.1


def test_parameter_count_figures_for_s():
    model = FasterNet('s')
    # FasterNet-S: 31_181_032 on ImageNet = 28_589_312 backbone + 2_591_720
    # head (1024 * 1280 conv + 1280 * 1000 + 1000 linear); the four output
    # norms add 2 * (128 + 256 + 512 + 1024) = 3840.
    assert backbone_without_out_norms(model) == 28_589_312
    assert imagenet_head_parameters('s') == 1024 * 1280 + 1280 * 1000 + 1000 == 2_591_720
    assert parameter_count(model)[''] - backbone_without_out_norms(model) == 3840


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('size', [(224, 224), (800, 1216), (513, 771)])
def test_output_shapes(arch, size):
    model = FasterNet(arch).eval()
    c = ARCH_SETTINGS[arch]['embed_dim']
    with torch.no_grad():
        outs = model(torch.rand(1, 3, *size))
    assert len(outs) == 4
    for i, out in enumerate(outs):
        stride = 2**(i + 2)
        assert tuple(out.shape) == (1, c * 2**i, size[0] // stride, size[1] // stride)


def test_out_indices_select_outputs_and_norms():
    model = FasterNet('t0', out_indices=(1, 3)).eval()
    outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 80, 8, 12), (2, 320, 2, 3)]
    assert hasattr(model, 'norm1') and not hasattr(model, 'norm0')


def test_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match='H, W >= 32'):
        FasterNet('t0')(torch.rand(1, 3, 31, 64))


def test_unknown_arch_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown FasterNet arch 'xl'; use one of t0, t1, t2, s, m, l"):
        FasterNet('xl')


def test_custom_arch_dict():
    model = FasterNet(dict(embed_dim=16, depths=(1, 1, 2, 1), act='GELU')).eval()
    outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 32, 64, 128]
    with pytest.raises(ValueError, match='missing keys'):
        FasterNet(dict(depths=(1, 1, 1, 1)))


def test_variant_hyperparameters():
    t0, s = FasterNet('t0'), FasterNet('s')
    assert isinstance(t0.stages[0].blocks[0].mlp[2], torch.nn.GELU)
    assert isinstance(s.stages[0].blocks[0].mlp[2], torch.nn.ReLU)
    assert [len(st.blocks) for st in s.stages] == [1, 2, 13, 2]
    assert s.stages[0].blocks[0].spatial_mixing.dim_conv == 32
    # Stochastic depth grows linearly to the last block.
    last = s.stages[3].blocks[-1].drop_path
    assert last.drop_prob == pytest.approx(0.1)
    assert isinstance(s.stages[0].blocks[0].drop_path, torch.nn.Identity)


@pytest.mark.parametrize('bad, match', [
    (dict(out_indices=(0, 4)), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages=5'),
    (dict(drop_path_rate=1.5), 'drop_path_rate'),
])
def test_bad_config_values(bad, match):
    with pytest.raises(ValueError, match=match):
        FasterNet('t0', **bad)


def test_frozen_stages_stay_frozen_after_train():
    model = FasterNet('t0', frozen_stages=2)
    model.train()
    frozen = [model.patch_embed, model.stages[0], model.stages[1], model.norm0, model.norm1]
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules())
    for module in (model.stages[2], model.stages[3], model.norm2, model.norm3):
        assert all(p.requires_grad for p in module.parameters())
        assert all(m.training for m in module.modules())
    # Frozen batch norms keep their statistics; trainable ones update them.
    frozen_bn = model.stages[1].blocks[0].mlp[1]
    trained_bn = model.stages[2].blocks[0].mlp[1]
    before = frozen_bn.running_mean.clone(), trained_bn.running_mean.clone()
    model(torch.rand(2, 3, 64, 64))
    assert torch.equal(frozen_bn.running_mean, before[0])
    assert not torch.equal(trained_bn.running_mean, before[1])


def test_frozen_stem_only():
    model = FasterNet('t0', frozen_stages=0).train()
    assert not model.patch_embed.training
    assert all(not p.requires_grad for p in model.patch_embed.parameters())
    assert model.stages[0].training
    assert all(p.requires_grad for p in model.stages[0].parameters())


def test_norm_eval_keeps_batch_norms_in_eval():
    model = FasterNet('t0', norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(not m.training for m in norms)
    assert model.stages[0].blocks[0].training
    assert all(p.requires_grad for p in model.parameters())


def test_with_cp_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = FasterNet('t0', drop_path_rate=0.0)
    checkpointed = FasterNet('t0', drop_path_rate=0.0, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 64)
    outs = []
    for model in (plain, checkpointed):
        model.train()
        out = model(x)
        sum(o.square().mean() for o in out).backward()
        outs.append((out, {n: p.grad.clone() for n, p in model.named_parameters()}))
    for a, b in zip(outs[0][0], outs[1][0]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert outs[0][1].keys() == outs[1][1].keys()
    for name, grad in outs[0][1].items():
        torch.testing.assert_close(grad, outs[1][1][name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('channels_last', [False, True])
def test_fast_eval_path_equals_reference_and_leaves_input(arch, channels_last):
    torch.manual_seed(0)
    model = FasterNet(arch)
    randomize_norms(model)
    model.eval()
    x = torch.randn(2, 3, 96, 128)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    original = x.clone()
    with torch.no_grad():
        reference = model.set_fast_inference(False)(x)
        fast = model.set_fast_inference(True)(x)
    assert torch.equal(x, original)
    for r, f in zip(reference, fast):
        assert (r - f).abs().max().item() <= 1e-5


@pytest.mark.parametrize('fused', [False, True])
def test_a_traced_fast_path_equals_eager_and_counts_its_products_as_convolutions(fused):
    """Under ``torch.jit.trace`` (FLOP counters, the ONNX export) the fast
    path's products are ``matmul`` nodes: the traced model gives the eager
    outputs, and mmengine's FLOP counter books exactly the reference path's
    convolution FLOPs, less only the block norms it folds (2 FLOPs an
    element in eval mode)."""
    from mmengine.analysis import FlopAnalyzer
    torch.manual_seed(0)
    model = FasterNet('t0')
    randomize_norms(model)
    model.eval()
    if fused:  # folded norms: the products have no bias
        model = model.switch_to_deploy()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        eager = model(x)
        traced = torch.jit.trace(model, x, check_trace=False)(x)
        reference = model.set_fast_inference(False)(x)
        model.set_fast_inference(True)
    for e, t, r in zip(eager, traced, reference):
        assert (e - t).abs().max().item() <= 1e-5 and (r - t).abs().max().item() <= 1e-4

    def counted(module):
        analyzer = FlopAnalyzer(module, (x, )).unsupported_ops_warnings(False)
        return analyzer.uncalled_modules_warnings(False).by_operator()

    fast = counted(model)
    with reference_forward(model):
        ref = counted(model)
    assert fast['conv'] + fast['matmul'] == ref['conv']
    if not fused:  # each block's hidden norm: 2 * dim channels at its stage's size
        hidden = sum(2 * 40 * 2**i * (16 // 2**i) * (24 // 2**i) * d
                     for i, d in enumerate((1, 2, 8, 2)))
        assert ref['batch_norm'] - fast['batch_norm'] == 2 * 2 * hidden


def test_fast_block_does_not_modify_its_input():
    model = FasterNet('t0')
    randomize_norms(model)
    block = model.stages[2].blocks[0].eval()
    x = torch.randn(1, 160, 8, 8)
    kept = x.clone()
    with torch.no_grad():
        out = block.forward_fast(x)
    assert torch.equal(x, kept)
    torch.testing.assert_close(out, block.forward_reference(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize('arch', ARCHS)
def test_fused_model_equals_unfused_and_has_no_batch_norm(arch):
    torch.manual_seed(0)
    fused = assert_fuses_to_reference(FasterNet(arch))
    with pytest.raises(RuntimeError, match='fused'):
        fused.train()


def assert_fuses_to_reference(model):
    """Fuse a copy of ``model`` (norms randomized, eval mode): no batch norm
    is left and both of its paths equal the unfused reference path within
    1e-4. Returns the fused copy."""
    randomize_norms(model)
    model.eval()
    fused = copy.deepcopy(model).switch_to_deploy()
    assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        expected = model.set_fast_inference(False)(x)
        for fast in (False, True):
            for e, g in zip(expected, fused.set_fast_inference(fast)(x)):
                assert (e - g).abs().max().item() <= 1e-4
    return fused


NO_AFFINE = dict(type='BN', affine=False)
NO_RUNNING_STATS = dict(type='BN', track_running_stats=False)


@pytest.mark.parametrize('norm_cfg', [NO_AFFINE, NO_RUNNING_STATS], ids=['no_affine',
                                                                        'no_running_stats'])
@pytest.mark.parametrize('channels_last', [False, True])
def test_eval_with_plain_norms_equals_reference(norm_cfg, channels_last):
    torch.manual_seed(0)
    model = FasterNet('t0', norm_cfg=norm_cfg)
    randomize_norms(model)
    model.eval()
    x = torch.randn(2, 3, 96, 128)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        reference = model.set_fast_inference(False)(x)
        fast = model.set_fast_inference(True)(x)
    assert len(fast) == 4
    for r, f in zip(reference, fast):
        assert r.shape == f.shape
        assert (r - f).abs().max().item() <= 1e-5 * max(1.0, r.abs().max().item())


def test_norms_without_affine_parameters_fuse_exactly():
    torch.manual_seed(0)
    assert_fuses_to_reference(FasterNet('t0', norm_cfg=NO_AFFINE))


def test_fuse_refuses_norms_without_running_statistics_and_leaves_the_model():
    torch.manual_seed(0)
    model = FasterNet('t0', norm_cfg=NO_RUNNING_STATS)
    randomize_norms(model)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    with pytest.raises(ConfigError, match=r'track_running_stats=False.*track_running_stats=True'):
        model.switch_to_deploy()
    assert not model.deployed
    assert sum(isinstance(m, _BatchNorm) for m in model.modules()) == 13 + 4 + 4
    with torch.no_grad():
        for b, a in zip(before, model(x)):
            assert torch.equal(a, b)


def test_partial_conv_from_a_config_convolves_the_first_channels_only():
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    pconv = MODELS.build(dict(type='PartialConv', dim=64, n_div=4))
    x = torch.randn(2, 64, 9, 11)
    with torch.no_grad():
        out = pconv(x)
        expected = torch.nn.functional.conv2d(x[:, :16], pconv.partial_conv3.weight, padding=1)
    torch.testing.assert_close(out[:, :16], expected)
    assert torch.equal(out[:, 16:], x[:, 16:])
    with pytest.raises(ConfigError, match='n_div=0 must be between 1 and dim=64'):
        MODELS.build(dict(type='PartialConv', dim=64, n_div=0))


def test_a_block_from_a_config_runs_fast_and_fuses_on_its_own():
    from mmdet.registry import MODELS as DET_MODELS
    torch.manual_seed(0)
    block = DET_MODELS.build(dict(type='FasterNetBlock', dim=48))  # found in the root registry
    assert block.spatial_mixing.dim_conv == 12 and block.mlp[0].out_channels == 96
    assert isinstance(block.mlp[2], torch.nn.ReLU)
    randomize_norms(block)
    block.eval()
    x = torch.randn(2, 48, 10, 12)
    with torch.no_grad():
        reference = block.forward_reference(x)
        torch.testing.assert_close(block(x), reference, rtol=0, atol=1e-5)
        fused = copy.deepcopy(block).switch_to_deploy()
        assert not any(isinstance(m, _BatchNorm) for m in fused.modules())
        torch.testing.assert_close(fused(x), reference, rtol=0, atol=1e-4)
    stats_free = DET_MODELS.build(dict(type='FasterNetBlock', dim=48, norm_cfg=NO_RUNNING_STATS))
    with pytest.raises(ConfigError, match='track_running_stats=False'):
        stats_free.switch_to_deploy()
    assert isinstance(stats_free.mlp[1], _BatchNorm)


DOC_PAGE = osp.join('docs', 'configs-and-checkpoints.md')


def _doc_block_after(heading: str) -> str:
    with open(osp.join(ROOT, DOC_PAGE)) as f:
        text = f.read()
    section = text.split(heading, 1)[1]
    return section.split('```python\n', 1)[1].split('```', 1)[0]


def test_the_documented_example_neck_with_faster_net_blocks_builds_runs_and_fuses():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import DefaultScope

    from fasternet_dense import FasterNetBlock
    code = _doc_block_after('### PConv and FasterNet blocks in your own modules')
    namespace = {}
    exec(compile(code, DOC_PAGE, 'exec'), namespace)
    torch.manual_seed(0)
    try:
        # In mmdet's scope, whatever runner an earlier test left current.
        with DefaultScope.overwrite_default_scope('mmdet'):
            neck = DET_MODELS.build(dict(type='PConvFPN', in_channels=[40, 80, 160, 320],
                                         out_channels=32, num_outs=5, num_blocks=2))
        backbone = FasterNet('t0')
        feats = backbone(torch.randn(1, 3, 128, 192))
        neck.train()
        outs = neck(feats)
        sum(o.sum() for o in outs).backward()
        assert [tuple(o.shape) for o in outs] == [
            (1, 32, 128 // s, 192 // s) for s in (4, 8, 16, 32, 64)]
        assert sum(isinstance(m, FasterNetBlock) for m in neck.modules()) == 10
        assert all(b.mlp[0].weight.grad is not None
                   for b in neck.modules() if isinstance(b, FasterNetBlock))
        randomize_norms(neck)
        neck.eval()
        with torch.no_grad():
            expected = neck(feats)
            for block in neck.modules():
                if isinstance(block, FasterNetBlock):
                    block.switch_to_deploy()
            for e, g in zip(expected, neck(feats)):
                torch.testing.assert_close(g, e, rtol=0, atol=1e-4)
    finally:
        DET_MODELS.module_dict.pop('PConvFPN', None)


def test_builds_through_mmdet_and_mmseg_registries():
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    for registry in (DET_MODELS, SEG_MODELS):
        for arch in ARCHS:
            model = registry.build(dict(type='FasterNet', arch=arch))
            assert isinstance(model, FasterNet) and model.arch_name == arch


def test_mmseg_pretrained_argument_becomes_init_cfg():
    model = FasterNet('t0', pretrained='some/file.pth')
    assert model.init_cfg == dict(type='Pretrained', checkpoint='some/file.pth')


CUSTOM_IMPORT_CONFIG = """
custom_imports = dict(imports=['fasternet_dense'], allow_failed_imports=False)
default_scope = '{scope}'
model = dict(type='FasterNet', arch='t0', out_indices=(0, 1, 2, 3))
"""

BUILD_FROM_CONFIG = """
import sys
from mmengine.config import Config
from mmengine.registry import DefaultScope, MODELS
import {scope}.registry as reg
cfg = Config.fromfile(sys.argv[1])
with DefaultScope.overwrite_default_scope(cfg.default_scope):
    model = reg.MODELS.build(cfg.model)
print(type(model).__module__, type(model).__name__)
"""


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_custom_imports_from_another_directory(tmp_path, scope):
    config = tmp_path / 'cfg.py'
    config.write_text(CUSTOM_IMPORT_CONFIG.format(scope=scope))
    script = tmp_path / 'build.py'
    script.write_text(BUILD_FROM_CONFIG.format(scope=scope))
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run([sys.executable, str(script), str(config)], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith('fasternet_dense.models.backbones.fasternet FasterNet')


def test_import_does_not_pull_mmdet_or_mmseg():
    code = ('import sys, fasternet_dense; '
            "print(sorted(m for m in ('mmdet', 'mmseg') if m in sys.modules))")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == '[]'


def test_every_config_and_the_docs_name_the_weights_of_the_variant_table():
    from fasternet_dense.models.backbones.fasternet import (PRETRAINED, PRETRAINED_URL,
                                                            pretrained_path)
    assert set(PRETRAINED) == set(ARCH_SETTINGS)
    for task, suffix in (('maskrcnn', 'coco'), ('semfpn', 'ade20k')):
        for arch in ARCH_SETTINGS:
            cfg = Config.fromfile(config_path(f'{task}_fasternet_{arch}_{suffix}.py'))
            assert cfg.model.backbone.arch == arch
            assert cfg.model.backbone.init_cfg.checkpoint == pretrained_path(arch)
    for arch in ('t0', 't1', 't2'):
        cfg = Config.fromfile(config_path(f'rtmdet_fasternet_{arch}_coco.py'))
        assert cfg.model.backbone.arch == arch
        assert cfg.model.backbone.init_cfg.checkpoint == pretrained_path(arch)
    with open(osp.join(ROOT, DOC_PAGE)) as f:
        doc = f.read()
    for arch, weights in PRETRAINED.items():
        assert f"| {arch} | {weights['file']} |" in doc
    assert f'from `{PRETRAINED_URL}<file>`' in doc
    # The documented table of variants and their neck channels.
    for arch, s in ARCH_SETTINGS.items():
        c = s['embed_dim']
        assert (f"| {arch} | {c} | {', '.join(map(str, s['depths']))} | {s['act']} | "
                f"[{c}, {2 * c}, {4 * c}, {8 * c}] |") in doc, arch
