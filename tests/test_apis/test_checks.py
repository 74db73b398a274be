"""Model config checks: wrong arch, indices or channels are one clear error
before anything is built."""
import os.path as osp

import pytest
from conftest import config_path
from mmengine.config import Config

from fasternet_dense import ConfigError, cli
from fasternet_dense.apis.checks import check_model_config
from fasternet_dense.datasets.toydata import make_toy_ade

SEG_CONFIG = config_path('semfpn_fasternet_t0_toyade.py')
DET_CONFIG = config_path('maskrcnn_fasternet_t0_toycoco.py')


def seg_cfg():
    return Config.fromfile(SEG_CONFIG)


def test_toy_configs_pass_model_checks():
    check_model_config(seg_cfg())
    check_model_config(Config.fromfile(DET_CONFIG))


@pytest.mark.parametrize('backbone, message', [
    (dict(arch='x1'), "Unknown FasterNet arch 'x1'; use one of t0, t1, t2, s, m, l"),
    (dict(out_indices=(0, 4)), 'FasterNet out_indices (0, 4) is invalid; use distinct '
     'stage indices from 0 to 3'),
    (dict(out_indices=(1, 1)), 'FasterNet out_indices (1, 1) is invalid'),
    (dict(frozen_stages=5), 'FasterNet frozen_stages=5 is out of range'),
    (dict(frozen_stages=-2), 'FasterNet frozen_stages=-2 is out of range'),
    (dict(drop_path_rate=1.0), 'FasterNet drop_path_rate=1.0 must be in [0, 1)'),
    (dict(arch=dict(embed_dim=32, depths=(1, 1, 1))), 'Custom FasterNet arch needs 4 depths'),
    (dict(widht=3), "model.backbone: FasterNet.__init__() got an unexpected keyword "
     "argument 'widht'"),
])
def test_bad_backbone_arguments_are_config_errors(backbone, message):
    cfg = seg_cfg()
    cfg.model.backbone.update(backbone)
    with pytest.raises(ConfigError) as info:
        check_model_config(cfg)
    assert str(info.value).startswith(message)


def test_neck_channels_must_match_the_arch():
    cfg = Config.fromfile(config_path('maskrcnn_fasternet_m_coco.py'))
    cfg.model.neck.in_channels = [128, 256, 512, 1024]
    with pytest.raises(ConfigError) as info:
        check_model_config(cfg)
    assert str(info.value) == (
        'model.neck.in_channels [128, 256, 512, 1024] do not match FasterNet-M outputs '
        '[144, 288, 576, 1152]; set model.neck.in_channels=[144,288,576,1152] (or change the '
        'backbone arch / out_indices).')


def test_neck_channels_follow_out_indices():
    cfg = seg_cfg()
    cfg.model.backbone.out_indices = (1, 2, 3)
    with pytest.raises(ConfigError, match=r'FasterNet-T0 outputs \[80, 160, 320\]'):
        check_model_config(cfg)
    cfg.model.neck.in_channels = [80, 160, 320]
    check_model_config(cfg)


def test_heads_without_a_neck_are_checked():
    cfg = seg_cfg()
    cfg.model.pop('neck')
    cfg.model.decode_head = dict(type='UPerHead', in_channels=[40, 80, 160, 330],
                                 in_index=[0, 1, 2, 3], channels=64, num_classes=5)
    with pytest.raises(ConfigError, match=r'model.decode_head.in_channels \[40, 80, 160, 330\] '
                       r'do not match FasterNet-T0 outputs \[40, 80, 160, 320\]'):
        check_model_config(cfg)
    cfg.model.decode_head.in_channels = [40, 80, 160, 320]
    cfg.model.auxiliary_head = dict(type='FCNHead', in_channels=256, in_index=2, channels=64,
                                    num_classes=5)
    with pytest.raises(ConfigError, match=r'model.auxiliary_head.in_channels 256 does not '
                       r'match FasterNet-T0 output 2 \(160 channels\); set '
                       r'model.auxiliary_head.in_channels=160'):
        check_model_config(cfg)


def test_cli_reports_config_errors_before_building(tmp_path, capsys):
    root = str(tmp_path / 'ade')
    make_toy_ade(root, num_train=4, num_val=2, image_size=64, seed=0)
    code = cli.train_main([SEG_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                           f'train_dataloader.dataset.data_root={root}',
                           f'val_dataloader.dataset.data_root={root}',
                           'model.backbone.arch=m'])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == ('error: model.neck.in_channels [40, 80, 160, 320] do not match FasterNet-M '
                   'outputs [144, 288, 576, 1152]; set model.neck.in_channels=[144,288,576,1152]'
                   ' (or change the backbone arch / out_indices).')
    assert not osp.exists(tmp_path / 'work')  # failed before the runner made anything


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_config_errors_come_before_missing_data(tmp_path, capsys, tool):
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')
    options = ['--cfg-options', 'model.backbone.arch=m'] + [
        f'{loader}.dataset.data_root={tmp_path}/no_ade'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    if tool == 'train':
        code = cli.train_main([SEG_CONFIG, '--work-dir', str(tmp_path / 'work'), *options])
    else:
        code = cli.test_main([SEG_CONFIG, str(checkpoint), '--work-dir', str(tmp_path / 'work'),
                              *options])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        'error: model.neck.in_channels [40, 80, 160, 320] do not match FasterNet-M '
        'outputs [144, 288, 576, 1152]; set model.neck.in_channels=[144,288,576,1152]'
        ' (or change the backbone arch / out_indices).')
