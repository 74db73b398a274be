"""The configs: Python-style files that any project inherits from the
installed package, equal to mmdet's and mmseg's own configs where they
restate them, and usable by mmdet's own ``tools/train.py``."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import CONFIGS, ROOT, config_path, plain_config
from mmengine.config import Config

from fasternet_dense.apis.config import CONFIG_DIR, config_file, load_config, resolve_config_path
from fasternet_dense.datasets.transforms.loading import LoadImageFromFileOrSkip
from fasternet_dense.engine.hooks.nonfinite_loss_hook import NonFiniteLossHook
from fasternet_dense.engine.hooks.preemption_hook import PreemptionHook
from fasternet_dense.engine.hooks.step_seed_hook import StepSeedHook
from fasternet_dense.engine.hooks.unreadable_image_hook import UnreadableImageHook
from fasternet_dense.engine.runner.crash_safe_runner import CrashSafeRunner
from fasternet_dense.models.backbones.fasternet import FasterNet

PROJECT_CONFIGS = sorted(n for n in os.listdir(CONFIGS) if n.endswith('.py'))


def _installed(package: str) -> str:
    from mmengine.utils import get_installed_path
    return get_installed_path(package)


def test_mask_rcnn_base_equals_mmdets_config():
    ours = Config.fromfile(config_path('_base_/mask_rcnn_coco.py')).to_dict()
    theirs = Config.fromfile(
        resolve_config_path('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')).to_dict()
    assert plain_config(ours) == plain_config(theirs)


def test_semantic_fpn_base_equals_mmsegs_configs(tmp_path):
    reference = tmp_path / 'reference.py'
    reference.write_text('_base_ = [{!r}, {!r}, {!r}]\n'.format(*(
        resolve_config_path(f'mmseg::_base_/{name}.py')
        for name in ('models/fpn_r50', 'datasets/ade20k', 'default_runtime'))))
    ours = Config.fromfile(config_path('_base_/semantic_fpn_ade20k.py')).to_dict()
    assert plain_config(ours) == plain_config(Config.fromfile(str(reference)).to_dict())


def test_a_changed_value_is_seen_by_the_comparison():
    ours = Config.fromfile(config_path('_base_/mask_rcnn_coco.py')).to_dict()
    changed = Config.fromfile(config_path('_base_/mask_rcnn_coco.py')).to_dict()
    changed['model']['roi_head']['bbox_head']['roi_feat_size'] = 8
    assert plain_config(ours) != plain_config(changed)


@pytest.mark.parametrize('name', PROJECT_CONFIGS)
def test_project_configs_turn_on_crash_safety_and_name_the_backbone_class(name):
    cfg = Config.fromfile(config_path(name))
    assert cfg.runner_type is CrashSafeRunner
    assert [h['type'] for h in cfg.custom_hooks].count(StepSeedHook) == 1
    assert [h['type'] for h in cfg.custom_hooks].count(NonFiniteLossHook) == 1
    assert [h['type'] for h in cfg.custom_hooks].count(PreemptionHook) == 1
    assert [h['type'] for h in cfg.custom_hooks].count(UnreadableImageHook) == 1
    # Training skips an unreadable image; evaluation reads every one.
    train = cfg.train_dataloader.dataset
    while 'pipeline' not in train:
        train = train.dataset
    loaders = [train.pipeline[0]] + [h.switch_pipeline[0] for h in cfg.custom_hooks
                                     if h['type'] == 'PipelineSwitchHook']
    assert all(loader['type'] is LoadImageFromFileOrSkip for loader in loaders)
    assert 'OrSkip' not in str(cfg.val_dataloader) + str(cfg.test_dataloader)
    if 'fasternet' in name:
        assert cfg.model.backbone.type is FasterNet
    else:  # the light backbones of the RTMDet configs, named by class
        from mmpretrain.models import MobileNetV3, ShuffleNetV1, ShuffleNetV2, TIMMBackbone

        from fasternet_dense.models import SqueezeNet
        assert cfg.model.backbone.type in (MobileNetV3, ShuffleNetV1, ShuffleNetV2, TIMMBackbone,
                                           SqueezeNet)
    assert cfg.default_scope in ('mmdet', 'mmseg')


def test_the_package_carries_the_repository_configs():
    assert osp.realpath(CONFIG_DIR) == osp.realpath(CONFIGS)
    assert config_file('maskrcnn_fasternet_s_coco') == config_file('maskrcnn_fasternet_s_coco.py')
    cfg = load_config('semfpn_fasternet_t0_ade20k')  # a name, from any directory
    assert cfg.model.backbone.arch == 't0'


def test_an_unknown_config_name_is_one_clear_error():
    from fasternet_dense.utils.errors import ConfigError
    with pytest.raises(ConfigError, match="no_such_config.*name of one of the package's"):
        load_config('no_such_config')
    with pytest.raises(ConfigError, match=r"mask_rcnn/no_such\.py not found.*mmdet::/mmseg::"):
        load_config('mmdet::mask_rcnn/no_such.py')
    with pytest.raises(ConfigError, match='package no_such_package is not installed'):
        load_config('no_such_package::x.py')


def test_one_resolver_serves_files_names_and_package_configs():
    mmdet_cfg = resolve_config_path('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    assert osp.isfile(mmdet_cfg) and osp.join('.mim', 'configs') in mmdet_cfg
    assert resolve_config_path('maskrcnn_fasternet_s_coco') == config_file('maskrcnn_fasternet_s_coco')
    assert resolve_config_path(mmdet_cfg) == mmdet_cfg
    assert load_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model.backbone.depth == 50


USER_CONFIG = '''\
from mmengine.config import read_base

with read_base():
    from fasternet_dense.configs.maskrcnn_fasternet_t0_toycoco import *

# A user's project: the toy data under its own folder, two images per split,
# one iteration of training and one of validation.
data_root = {data_root!r}
for loader in (train_dataloader, val_dataloader):
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=data_root, indices=2)
del loader
val_evaluator.ann_file = data_root + 'annotations/instances_val2017.json'
train_cfg.update(max_epochs=1, val_interval=1)
default_hooks.checkpoint.update(interval=1)
'''


def _user_project(tmp_path):
    from fasternet_dense.datasets.toydata import make_toy_coco
    data = tmp_path / 'data'
    make_toy_coco(str(data), num_train=4, num_val=2)
    config = tmp_path / 'my_maskrcnn.py'
    config.write_text(USER_CONFIG.format(data_root=str(data) + '/'))
    return config


def _train(command, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.slow
def test_a_project_elsewhere_trains_with_our_train_tool(tmp_path):
    config = _user_project(tmp_path)
    result = _train([sys.executable, osp.join(ROOT, 'tools/train.py'), str(config),
                     '--work-dir', str(tmp_path / 'work')], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


@pytest.mark.slow
def test_a_project_elsewhere_trains_with_mmdets_own_train_tool(tmp_path):
    config = _user_project(tmp_path)
    train = osp.join(_installed('mmdet'), '.mim/tools/train.py')
    result = _train([sys.executable, train, str(config), '--work-dir', str(tmp_path / 'work')],
                    cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
    # The hook the config names by class was registered and ran.
    log = '\n'.join(p.read_text() for p in (tmp_path / 'work').rglob('*.log'))
    assert 'StepSeedHook' in log


@pytest.mark.slow
def test_a_built_wheel_carries_the_configs_and_they_are_inherited_from_it(tmp_path):
    # Built from a copy, so that the build leaves nothing in the checkout.
    source = tmp_path / 'source'
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'data', 'work_dirs', 'checkpoints', 'build', '*.egg-info',
        '__pycache__'))
    wheels = tmp_path / 'wheels'
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                            '--no-build-isolation', '-q', '-w', str(wheels), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel, = wheels.glob('fasternet_dense-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in PROJECT_CONFIGS + ['_base_/mask_rcnn_coco.py', '_base_/semantic_fpn_ade20k.py']:
        assert f'fasternet_dense/configs/{name}' in names
    site = tmp_path / 'site'
    installed = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
                                '--target', str(site), str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    config = tmp_path / 'user.py'
    config.write_text('from mmengine.config import read_base\n\nwith read_base():\n'
                      '    from fasternet_dense.configs.semfpn_fasternet_m_ade20k import *\n')
    code = ('import sys; from mmengine.config import Config; '
            'cfg = Config.fromfile(sys.argv[1]); import fasternet_dense; '
            'print(fasternet_dense.__file__); print(cfg.model.backbone.arch)')
    env = dict(os.environ, PYTHONPATH=str(site))
    result = subprocess.run([sys.executable, '-c', code, str(config)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    module_file, arch = result.stdout.split()[-2:]
    assert module_file.startswith(str(site)) and arch == 'm'
