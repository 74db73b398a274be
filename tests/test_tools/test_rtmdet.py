"""Real-time detection: the RTMDet bases equal mmdet's configs; RTMDet with
FasterNet and with the light backbones of its literature builds, trains a step
and tests a step on CPU; SqueezeNet's runs on strides 4-16; RepGhostNet's
re-parameterisation and folded batch norms keep the detections; timm's weights
load from a local file."""
import copy
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.analysis import parameter_count
from conftest import CONFIGS, config_path, plain_config
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from fasternet_dense import FasterNet
from fasternet_dense.apis.config import replace_type, resolve_config_path
from fasternet_dense.apis.inference import build_model, deploy_model, fuse_model
from fasternet_dense.datasets.transforms.loading import LoadImageFromFileOrSkip
from fasternet_dense.engine.hooks.nonfinite_loss_hook import NonFiniteLossHook
from fasternet_dense.engine.hooks.preemption_hook import PreemptionHook
from fasternet_dense.engine.hooks.step_seed_hook import StepSeedHook
from fasternet_dense.engine.hooks.unreadable_image_hook import UnreadableImageHook
from fasternet_dense.engine.runner.crash_safe_runner import CrashSafeRunner

RTMDET_CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CONFIGS, 'rtmdet_*.py')))
# Each FasterNet variant, the RTMDet size it is paired with and the channels
# that size's CSPNeXt feeds the neck.
PAIRS = {'t0': ('tiny', [96, 192, 384]), 't1': ('s', [128, 256, 512]),
         't2': ('m', [192, 384, 768])}


def demo_batch(seed: int = 0, size=(3, 128, 160), num_classes: int = 80):
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    return demo_mm_inputs(batch_size=2, image_shapes=size, num_items=[3, 2],
                          num_classes=num_classes)


@pytest.mark.parametrize('size', ['l', 'm', 's', 'tiny'])
def test_rtmdet_bases_equal_mmdets_configs(size):
    ours = Config.fromfile(config_path(f'_base_/rtmdet_{size}_coco.py')).to_dict()
    theirs = Config.fromfile(
        resolve_config_path(f'mmdet::rtmdet/rtmdet_{size}_8xb32-300e_coco.py')).to_dict()
    assert plain_config(ours) == plain_config(theirs)


@pytest.mark.parametrize('arch', list(PAIRS))
def test_fasternet_rtmdet_keeps_the_recipe_of_the_size_it_pairs_with(arch):
    size, cspnext_channels = PAIRS[arch]
    ours = Config.fromfile(config_path(f'rtmdet_fasternet_{arch}_coco.py'))
    base = Config.fromfile(config_path(f'_base_/rtmdet_{size}_coco.py'))
    assert ours.model.backbone.type is FasterNet and ours.model.backbone.arch == arch
    assert ours.model.backbone.out_indices == (1, 2, 3)
    c = FasterNet(arch).embed_dim
    assert ours.model.neck.in_channels == [2 * c, 4 * c, 8 * c]
    assert base.model.neck.in_channels == cspnext_channels
    for key in ('neck', 'bbox_head', 'test_cfg', 'train_cfg', 'data_preprocessor'):
        if key == 'neck':
            assert {**ours.model.neck, 'in_channels': None} == {**base.model.neck,
                                                                 'in_channels': None}
        else:
            assert ours.model[key] == base.model[key], key
    # The training loaders skip unreadable images: the one change to the data.
    assert ours.train_dataloader.dataset.pipeline[0].type is LoadImageFromFileOrSkip
    assert ours.custom_hooks[1].switch_pipeline[0].type is LoadImageFromFileOrSkip
    ours = as_mmcv_loader(ours)
    for key in ('optim_wrapper', 'param_scheduler', 'train_dataloader', 'train_cfg'):
        assert ours[key] == base[key], key
    assert ours.custom_hooks[:-4] == base.custom_hooks
    assert ours.runner_type is CrashSafeRunner
    assert [h.type for h in ours.custom_hooks[-4:]] == [StepSeedHook, NonFiniteLossHook,
                                                        PreemptionHook, UnreadableImageHook]


def as_mmcv_loader(cfg: Config) -> Config:
    """A copy of ``cfg`` with ``LoadImageFromFileOrSkip`` written as mmcv's
    ``LoadImageFromFile`` (which takes the same arguments)."""
    cfg = copy.deepcopy(cfg)
    for key in cfg.keys():
        replace_type(cfg[key], LoadImageFromFileOrSkip, 'LoadImageFromFile')
    return cfg


@pytest.mark.parametrize('name', RTMDET_CONFIGS)
def test_every_rtmdet_config_trains_a_step_and_tests_a_step(name):
    cfg = Config.fromfile(config_path(name))
    cfg.model.backbone.pop('init_cfg', None)
    model = build_model(cfg)
    model.train()
    classes = cfg.model.bbox_head.num_classes
    packed = demo_batch(num_classes=classes)
    data = model.data_preprocessor(packed, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    assert sum(p.grad.abs().sum() for p in model.backbone.parameters()
               if p.grad is not None) > 0
    model.eval()
    with torch.no_grad():
        results = model.test_step(demo_batch(1, num_classes=classes))
    assert len(results) == 2
    boxes = results[0].pred_instances.bboxes
    assert boxes.shape[1] == 4 and torch.isfinite(boxes).all()


def test_squeezenet_rtmdet_runs_neck_and_head_on_strides_4_to_16():
    """SqueezeNet has no stride-32 map: its padded stem gives maps of exactly
    a quarter, an eighth and a sixteenth of 640, which the PAFPN's 2x
    upsampling and concatenation need, and the point priors follow."""
    model = build_model(Config.fromfile(config_path('rtmdet_squeezenet1_1_coco.py'))).eval()
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 640, 640))
        outs = model.neck(feats)
    assert [tuple(f.shape[1:]) for f in feats] == [(128, 160, 160), (256, 80, 80),
                                                   (512, 40, 40)]
    assert [tuple(o.shape[2:]) for o in outs] == [(160, 160), (80, 80), (40, 40)]
    assert model.bbox_head.prior_generator.strides == [(4, 4), (8, 8), (16, 16)]


def with_boxes(model):
    """Random weights predict distances around 0, i.e. empty boxes that the
    post-processing drops; a positive bias on the box branch gives every
    point a box, so each image yields ``max_per_img`` detections."""
    for reg in model.bbox_head.rtm_reg:
        reg.bias.data.fill_(2.0)
    return model


def _scores(model, batch):
    with torch.no_grad():
        return [r.pred_instances for r in model.test_step(batch)]


def _assert_same_detections(a, b, atol=1e-4):
    for x, y in zip(a, b):
        assert len(x) == len(y) == 50
        torch.testing.assert_close(y.scores, x.scores, rtol=0, atol=atol)
        assert torch.equal(x.labels, y.labels)


def test_re_parameterised_repghostnet_gives_the_same_detections():
    cfg = Config.fromfile(config_path('rtmdet_repghostnet_100_coco.py'))
    cfg.model.test_cfg.update(score_thr=0.0, nms_pre=200, max_per_img=50)
    model = with_boxes(build_model(cfg))
    # Non-trivial batch-norm statistics in every branch, as after training.
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    model.eval()
    batch = demo_batch(2)
    before = _scores(model, batch)
    from timm.utils import reparameterize_model
    theirs = reparameterize_model(model.backbone.timm_model).state_dict()  # a copy
    branches = parameter_count(model.backbone)['']
    done = deploy_model(model)
    assert done and all(d.endswith('.switch_to_deploy') for d in done), done
    assert parameter_count(model.backbone)[''] < branches
    ours = model.backbone.timm_model.state_dict()
    assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    _assert_same_detections(before, _scores(model, batch))


@pytest.mark.parametrize('name', ['rtmdet_fasternet_t0_coco.py', 'rtmdet_ghostnet_100_coco.py'])
def test_folding_batch_norms_keeps_the_detections_of_a_shared_conv_head(name):
    """RTMDet's head shares each conv across levels, with a batch norm per
    level: those stay, every other conv + norm pair folds."""
    cfg = Config.fromfile(config_path(name))
    cfg.model.test_cfg.update(score_thr=0.0, nms_pre=200, max_per_img=50)
    model = with_boxes(build_model(cfg)).eval()
    batch = demo_batch(3)
    before = _scores(model, batch)
    norms = sum(isinstance(m, _BatchNorm) for m in model.modules())
    fuse_model(model)
    head_norms = sum(isinstance(m, _BatchNorm)
                     for m in model.bbox_head.modules())
    left = sum(isinstance(m, _BatchNorm) for m in model.modules())
    assert left == head_norms > 0 and left < norms
    _assert_same_detections(before, _scores(model, batch))


def test_timm_backbones_load_timms_weights_from_a_local_file(tmp_path):
    """The documented --cfg-options: pretrained=True with
    pretrained_cfg_overlay.file, read by timm without any network."""
    import timm
    from safetensors.torch import save_file
    source = timm.create_model('ghostnet_050', pretrained=False)
    weights = tmp_path / 'ghostnet_050.safetensors'
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(weights))
    cfg = Config.fromfile(config_path('rtmdet_ghostnet_050_coco.py'))
    cfg.merge_from_dict({'model.backbone.pretrained': True,
                         'model.backbone.pretrained_cfg_overlay.file': str(weights)})
    backbone = build_model(cfg, seed=1).backbone
    theirs = source.state_dict()

    def same(state):
        # timm's feature wrapper names blocks.0 blocks_0
        return [torch.equal(v, theirs[re.sub(r'^blocks_(\d+)', r'blocks.\1', k)])
                for k, v in state.items()]

    assert all(same(backbone.timm_model.state_dict()))
    fresh = build_model(Config.fromfile(config_path('rtmdet_ghostnet_050_coco.py')),
                        seed=1).backbone.timm_model.state_dict()
    assert not all(same(fresh))
