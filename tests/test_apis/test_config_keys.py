"""Config keys that nothing takes: one line with the key, what it was
given to and the closest valid names, before anything is built; keys that
something takes pass, in the project's configs and in mmdet's and mmseg's."""

import pytest
from conftest import as_argv, config_path, loader_options, run_tool
from mmengine.config import Config

from fasternet_dense import cli
from fasternet_dense.datasets.toydata import make_toy_ade

SEG_CONFIG = config_path('semfpn_fasternet_t0_toyade.py')

# ------------------------------------------------------ keys nothing takes


@pytest.mark.parametrize('option, message', [
    ('train_cfgg.max_iters=2', "Config key train_cfgg is not taken by this config nor "
     "mmengine's Runner; did you mean train_cfg?"),
    ('train_cfg.max_iter=2', 'Config key train_cfg.max_iter is not taken by IterBasedTrainLoop '
     '(train_cfg); did you mean max_iters'),
    ('model.decode_head.num_clases=3', 'Config key model.decode_head.num_clases is not taken '
     'by FPNHead (model.decode_head); did you mean num_classes?'),
    ('model.backbone.archh=s', 'Config key model.backbone.archh is not taken by FasterNet '
     '(model.backbone); did you mean arch?'),
    ('train_dataloader.num_worker=0', 'Config key train_dataloader.num_worker is not taken by '
     'the dataloader (train_dataloader); did you mean num_workers'),
    ('train_dataloader.dataset.data_prefx.img_path=x', 'Config key '
     'train_dataloader.dataset.data_prefx is not taken by BaseSegDataset '
     '(train_dataloader.dataset); did you mean data_prefix'),
    ('train_dataloader.dataset.pipeline.3.cat_max_ration=0.5', 'Config key '
     'train_dataloader.dataset.pipeline.3.cat_max_ration is not taken by RandomCrop '
     '(train_dataloader.dataset.pipeline.3); did you mean cat_max_ratio?'),
    ('default_hooks.checkpoint.intervall=3', 'Config key default_hooks.checkpoint.intervall is '
     'not taken by CheckpointHook (default_hooks.checkpoint); did you mean interval?'),
    ('custom_hooks.0.sed=3', 'Config key custom_hooks.0.sed is not taken by StepSeedHook '
     '(custom_hooks.0); did you mean seed?'),
    ('optim_wrapper.optimizer.lrr=0.1', 'Config key optim_wrapper.optimizer.lrr is not taken '
     'by AdamW (optim_wrapper.optimizer); did you mean lr?'),
    ('param_scheduler.0.ennd=3', 'Config key param_scheduler.0.ennd is not taken by LinearLR '
     '(param_scheduler.0); did you mean end?'),
    ('env_cfg.cudnn_benchmarkk=True', 'Config key env_cfg.cudnn_benchmarkk is not taken by '
     'mmengine (env_cfg); did you mean cudnn_benchmark?'),
    ('randomness.sed=1', 'Config key randomness.sed is not taken by mmengine (randomness); did '
     'you mean seed?'),
    ('data_check.skip_badd=True', 'Config key data_check.skip_badd is not taken by the toolkit '
     '(data_check); did you mean skip_bad?'),
    ('nonfinite_loss.max_skip=1', 'Config key nonfinite_loss.max_skip is not taken by the '
     'toolkit (nonfinite_loss); did you mean max_skips?'),
])
def test_a_misspelt_key_stops_before_anything_is_built_with_the_closest_names(
        tmp_path, capsys, option, message):
    """Each key nothing takes, in any part the runner builds: one line with
    the key, what it was given to and the closest valid names; nothing is
    built or written."""
    work = tmp_path / 'work'
    assert cli.train_main([SEG_CONFIG, '--work-dir', str(work), '--cfg-options', option]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ' + message), lines
    assert not work.exists()


def test_test_tool_checks_keys_too(tmp_path, capsys):
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    assert cli.test_main([SEG_CONFIG, str(ckpt), '--cfg-options',
                          'test_dataloader.batch_sise=2']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: Config key test_dataloader.batch_sise is not taken by the dataloader '
        '(test_dataloader); did you mean batch_size or batch_sampler?')


@pytest.mark.parametrize('option', [
    'model.decode_head.dropout_ratio=0.2',  # FPNHead passes it on to BaseDecodeHead
    'train_dataloader.pin_memory=True',  # torch's DataLoader
    'default_hooks.checkpoint.save_optimizer=False',  # CheckpointHook -> save_checkpoint
    'train_dataloader.dataset.pipeline.2.keep_ratio=True',  # RandomResize keeps **kwargs
    'log_level=DEBUG',  # read by mmengine's Runner
    'nonfinite_loss.max_skips=2',
])
def test_keys_that_something_takes_are_allowed(option):
    from fasternet_dense.apis.config import load_config
    load_config(SEG_CONFIG, {option.split('=')[0]: option.split('=')[1]})


def test_keys_are_followed_through_kwargs_to_the_class_that_takes_them():
    from mmcv.transforms import RandomResize
    from mmdet.models.dense_heads import VFNetHead
    from mmengine.hooks import CheckpointHook
    from mmseg.datasets.transforms import LoadAnnotations

    from fasternet_dense.apis.config_keys import accepted_keys

    # super(FCOSHead, self).__init__(**kwargs): AnchorFreeHead's arguments.
    assert {'strides', 'dcn_on_last_conv', 'num_classes'} <= accepted_keys(VFNetHead)
    assert 'scales' not in accepted_keys(VFNetHead)  # AnchorHead is skipped
    assert {'interval', 'save_optimizer', 'backend_args'} <= accepted_keys(CheckpointHook)
    assert accepted_keys(LoadAnnotations) == {'reduce_zero_label', 'backend_args',
                                              'imdecode_backend'}
    assert accepted_keys(RandomResize) is None  # keeps **resize_kwargs for its Resize


def test_every_project_config_has_only_keys_something_takes():
    import glob

    from fasternet_dense.apis.config_keys import unknown_keys
    files = sorted(glob.glob(config_path('*.py')))
    assert len(files) >= 28
    for path in files:
        assert unknown_keys(Config.fromfile(path)) == [], path


# Stock configs of mmdet 3.3 whose keys no builder takes: the check finds
# exactly these, and building them fails with a TypeError on the same key.
STOCK_BROKEN = {
    'mmdet::v3det/fcos_swinb_fpn_8x4_sample1e-3_mstrain_v3det_2x.py':
        ('model.neck.force_grad_on_level', 'model'),
    'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712-cocofmt.py':
        ('val_evaluator.eval_mode', 'val_evaluator'),
}
STOCK_GOOD = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
    'mmdet::vfnet/vfnet_r50-mdconv-c3-c5_fpn_ms-2x_coco.py', 'mmdet::detr/detr_r50_8xb2-150e_coco.py',
    'mmdet::dcn/faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py', 'mmdet::yolox/yolox_s_8xb8-300e_coco.py',
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py',
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'mmdet::solov2/solov2_r50_fpn_1x_coco.py',
    'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py', 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py',
    'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512.py',
    'mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',
    'mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
]


@pytest.mark.parametrize('name', STOCK_GOOD)
def test_stock_configs_of_mmdet_and_mmseg_pass(name):
    from fasternet_dense.apis.config import resolve_config_path
    from fasternet_dense.apis.config_keys import unknown_keys
    assert unknown_keys(Config.fromfile(resolve_config_path(name))) == []


@pytest.mark.parametrize('name', sorted(STOCK_BROKEN))
def test_stock_configs_with_a_key_no_builder_takes_are_found(name):
    from fasternet_dense.apis.config import resolve_config_path
    from fasternet_dense.apis.config_keys import unknown_keys
    from fasternet_dense.utils.tasks import task_registries
    key, part = STOCK_BROKEN[name]
    cfg = Config.fromfile(resolve_config_path(name))
    found = [u.path for u in unknown_keys(cfg)]
    assert found == ([key, key.replace('val_evaluator', 'test_evaluator')] if 'evaluator' in key else [key])
    from mmengine.registry import DefaultScope
    registry = task_registries('mmdet')
    built = cfg[part]
    if part == 'model':
        built.backbone.init_cfg = None
        build = registry.MODELS.build
    else:
        built.ann_file = None
        build = registry.METRICS.build
    with DefaultScope.overwrite_default_scope('mmdet'), pytest.raises(
            TypeError, match=key.rsplit('.', 1)[1]):
        build(built)


def test_the_config_dump_goes_to_the_log_file_not_the_console(tmp_path):
    """mmengine prints the environment and the whole config (hundreds of
    lines) when the runner is built; the console gets one line naming the
    log file, which keeps them."""
    root = tmp_path / 'ade'
    make_toy_ade(str(root), num_train=4, num_val=2, image_size=64, seed=0)
    work = tmp_path / 'work'
    proc = run_tool('train.py', SEG_CONFIG, '--work-dir', str(work),
                    *as_argv(loader_options(root, **{'train_cfg.max_iters': 1,
                                                     'train_cfg.val_interval': 1})))
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    logs = list(work.glob('*/*.log'))
    assert len(logs) == 1
    assert f'Environment and config: written to {logs[0]}' in console
    assert 'Config:' not in console and 'decode_head=dict(' not in console
    text = logs[0].read_text()
    assert 'Config:' in text and 'decode_head=dict(' in text and 'System environment' in text
