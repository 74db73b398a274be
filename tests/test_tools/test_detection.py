"""Detection: the COCO configs, other mmdet detectors, pre-flight errors."""
import pytest
import torch
from mmengine.analysis import parameter_count
from conftest import assert_names_the_s_imagenet_download, config_path, error_line, run_tool
from mmengine.config import Config

from fasternet_dense import FasterNet

# The paper's Mask R-CNN parameter counts (millions).
PAPER_MASKRCNN_PARAMS_M = {'s': 49.0, 'm': 71.2, 'l': 110.9}


def build_detector(cfg_model):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    return MODELS.build(cfg_model)


@pytest.mark.parametrize('arch', ['s', 'm', 'l'])
def test_maskrcnn_parameter_count_matches_paper(arch):
    cfg = Config.fromfile(config_path(f'maskrcnn_fasternet_{arch}_coco.py'))
    model = build_detector(cfg.model)
    params_m = parameter_count(model)[''] / 1e6
    assert abs(params_m - PAPER_MASKRCNN_PARAMS_M[arch]) / PAPER_MASKRCNN_PARAMS_M[arch] < 0.01


@pytest.mark.parametrize('arch, lr, dpr, ckpt', [
    ('s', 2e-4, 0.15, 'fasternet_s-epoch.299-val_acc1.81.2840.pth'),
    ('m', 1e-4, 0.2, 'fasternet_m-epoch.291-val_acc1.82.9620.pth'),
    ('l', 1e-4, 0.3, 'fasternet_l-epoch.299-val_acc1.83.5060.pth'),
])
def test_maskrcnn_configs_follow_the_paper_recipe(arch, lr, dpr, ckpt):
    cfg = Config.fromfile(config_path(f'maskrcnn_fasternet_{arch}_coco.py'))
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=lr, weight_decay=1e-4)
    assert cfg.model.backbone.drop_path_rate == dpr
    assert cfg.model.backbone.init_cfg.checkpoint == f'checkpoints/{ckpt}'
    c = FasterNet(arch).channels
    assert cfg.model.neck.in_channels == list(c)
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.train_dataloader.batch_size == 2 and cfg.auto_scale_lr.base_batch_size == 16
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR'][0]
    assert steps.milestones == [8, 11] and steps.gamma == 0.1
    warmup = [s for s in cfg.param_scheduler if s.type == 'LinearLR'][0]
    assert warmup.end == 500 and not warmup.by_epoch
    assert cfg.train_pipeline[2].scale == (1333, 800)
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'


OTHER_DETECTORS = {
    'retinanet': ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', False),
    'faster_rcnn': ('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', False),
    'cascade_mask_rcnn': ('mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', True),
}


@pytest.mark.slow
@pytest.mark.parametrize('name', list(OTHER_DETECTORS))
def test_backbone_trains_in_other_mmdet_detectors(tmp_path, name):
    from mmdet.testing import demo_mm_inputs
    base, with_mask = OTHER_DETECTORS[name]
    config = tmp_path / f'{name}.py'
    config.write_text(
        f"_base_ = '{base}'\n"
        "custom_imports = dict(imports=['fasternet_dense'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(_delete_=True, type='FasterNet', arch='t0'),\n"
        "             neck=dict(in_channels=[40, 80, 160, 320]))\n")
    cfg = Config.fromfile(str(config))
    model = build_detector(cfg.model)
    model.init_weights()
    model.train()
    assert isinstance(model.backbone, FasterNet)
    torch.manual_seed(0)
    packed = demo_mm_inputs(batch_size=2, image_shapes=(3, 128, 160), num_items=[3, 2],
                            num_classes=80, with_mask=with_mask)
    data = model.data_preprocessor(packed, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    grad = model.backbone.patch_embed.proj.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_missing_imagenet_checkpoint_stops_before_the_dataset(tmp_path):
    line = error_line(run_tool('train.py', 'configs/maskrcnn_fasternet_s_coco.py',
                               '--work-dir', str(tmp_path), timeout=300))
    assert_names_the_s_imagenet_download(line)


def test_missing_coco_is_one_clear_line_naming_the_path(tmp_path):
    line = error_line(run_tool('train.py', 'configs/maskrcnn_fasternet_s_coco.py',
                               '--work-dir', str(tmp_path), '--cfg-options',
                               'model.backbone.init_cfg=None',
                               f'train_dataloader.dataset.data_root={tmp_path}/coco/',
                               timeout=300))
    assert f'{tmp_path}/coco/annotations/instances_train2017.json' in line
    assert '--cfg-options' in line


def test_checkpoint_under_its_original_name_is_pointed_out(tmp_path):
    from fasternet_dense.apis.checks import check_pretrained
    from fasternet_dense.utils.errors import MissingFileError
    original = tmp_path / 'fasternet_s-epoch=299-val_acc1=81.2840.pth'
    original.write_bytes(b'')
    cfg = Config.fromfile(config_path('maskrcnn_fasternet_s_coco.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'fasternet_s-epoch.299-val_acc1.81.2840.pth')
    with pytest.raises(MissingFileError, match=f'but {original} exists: rename it'):
        check_pretrained(cfg)
