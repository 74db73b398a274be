"""Semantic FPN: the ADE20K configs, every variant through mmseg, and the toy
ADE set end to end (learning, the test tool, pre-flight errors)."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import (ROOT, as_argv, assert_names_the_s_imagenet_download, brief_training,
                      config_path, error_line, loader_options, run_distributed, run_tool)
from mmengine.config import Config

from fasternet_dense import FasterNet
from fasternet_dense.apis.config import build_runner, load_config
from fasternet_dense.datasets.toydata import make_toy_ade
from fasternet_dense.engine.runner.checkpoints import checkpoint_problem

ARCHS = ['t0', 't1', 't2', 's', 'm', 'l']
CKPTS = {
    't0': 'fasternet_t0-epoch.281-val_acc1.71.9180.pth',
    't1': 'fasternet_t1-epoch.291-val_acc1.76.2180.pth',
    't2': 'fasternet_t2-epoch.289-val_acc1.78.8860.pth',
    's': 'fasternet_s-epoch.299-val_acc1.81.2840.pth',
    'm': 'fasternet_m-epoch.291-val_acc1.82.9620.pth',
    'l': 'fasternet_l-epoch.299-val_acc1.83.5060.pth',
}
TOY_CONFIG = config_path('semfpn_fasternet_t0_toyade.py')


def build_segmentor(model_cfg):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    return MODELS.build(model_cfg)


@pytest.mark.parametrize('arch', ARCHS)
def test_ade20k_config_follows_the_peer_recipe(arch):
    cfg = Config.fromfile(config_path(f'semfpn_fasternet_{arch}_ade20k.py'))
    assert cfg.default_scope == 'mmseg'
    assert cfg.model.pretrained is None
    backbone = cfg.model.backbone
    assert backbone.type is FasterNet and backbone.arch == arch
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=f'checkpoints/{CKPTS[arch]}')
    assert cfg.model.neck.in_channels == list(FasterNet(arch).channels)
    assert cfg.model.neck.out_channels == 256
    assert cfg.model.decode_head.channels == 128 and cfg.model.decode_head.num_classes == 150
    assert cfg.train_dataloader.batch_size == 4  # x 8 GPUs = 32
    assert cfg.train_cfg.max_iters == 40000 and cfg.train_cfg.val_interval == 4000
    assert cfg.default_hooks.checkpoint.interval == 4000
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
    (poly, ) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min, poly.end) == ('PolyLR', 0.9, 0.0, 40000)
    resize = [t for t in cfg.train_pipeline if t.type == 'RandomResize'][0]
    assert resize.scale == (2048, 512) and resize.ratio_range == (0.5, 2.0)
    crop = [t for t in cfg.train_pipeline if t.type == 'RandomCrop'][0]
    assert crop.crop_size == (512, 512)
    test_types = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert test_types.index('Resize') < test_types.index('ResizeToMultiple')
    assert cfg.test_dataloader.dataset.pipeline[1].scale == (2048, 512)
    assert cfg.train_dataloader.dataset.data_root == 'data/ade/ADEChallengeData2016'


@pytest.mark.parametrize('arch', ARCHS)
def test_every_variant_builds_through_mmseg_and_takes_a_loss_step(arch):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(config_path(f'semfpn_fasternet_{arch}_ade20k.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor.size = (96, 128)
    model = build_segmentor(cfg.model)
    model.init_weights()
    model.train()
    assert isinstance(model.backbone, FasterNet)
    torch.manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 96, 128)))
        sample.set_metainfo(dict(img_shape=(96, 128), ori_shape=(96, 128), pad_shape=(96, 128)))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0


@pytest.fixture(scope='module')
def toy_ade(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(str(root), num_train=64, num_val=16)
    return root


@pytest.mark.slow
def test_brief_training_lowers_loss_and_beats_untrained_miou(toy_ade, tmp_path):
    options = loader_options(toy_ade, **{
        'train_cfg.max_iters': 150, 'train_cfg.val_interval': 150,
        'param_scheduler.0.end': 10, 'param_scheduler.1.begin': 10,
        'param_scheduler.1.end': 150, 'default_hooks.checkpoint.interval': 150,
        'randomness.seed': 0})
    untrained, trained, first, last = brief_training(TOY_CONFIG, options, tmp_path, 'mIoU',
                                                     window=10)
    assert last < 0.7 * first, (first, last)
    assert trained > untrained + 10, (untrained, trained)  # mmseg reports percent


@pytest.mark.slow
def test_test_tool_prints_segmentation_metrics_and_pictures(toy_ade, tmp_path):
    options = loader_options(toy_ade)
    cfg = load_config(TOY_CONFIG, options, str(tmp_path))
    runner = build_runner(cfg)
    runner.model.init_weights()
    path = tmp_path / 'random.pth'
    torch.save({'state_dict': runner.model.state_dict(), 'meta': {}}, path)
    show = tmp_path / 'show'
    proc = run_tool('test.py', TOY_CONFIG, str(path), '--work-dir', str(tmp_path / 'w'),
                    '--show-dir', str(show), '--out', str(tmp_path / 'labels'),
                    *as_argv(options))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for key in ('mIoU', 'mAcc', 'aAcc'):
        assert key in proc.stdout
    pictures = [f for _, _, files in os.walk(show) for f in files if f.endswith('.png')]
    assert len(pictures) == 16
    labels = [f for _, _, files in os.walk(tmp_path / 'labels') for f in files]
    assert len(labels) == 16


def test_missing_ade20k_is_one_clear_line_before_building(tmp_path):
    line = error_line(run_tool(
        'train.py', 'configs/semfpn_fasternet_t0_ade20k.py', '--work-dir', str(tmp_path),
        '--cfg-options', 'model.backbone.init_cfg=None',
        f'train_dataloader.dataset.data_root={tmp_path}/nowhere', timeout=300))
    assert f'{tmp_path}/nowhere/images/training' in line and '--cfg-options' in line


def test_missing_imagenet_checkpoint_says_where_to_get_it(tmp_path):
    line = error_line(run_tool('train.py', 'configs/semfpn_fasternet_s_ade20k.py',
                               '--work-dir', str(tmp_path), timeout=300))
    assert_names_the_s_imagenet_download(line)


@pytest.mark.slow
def test_distributed_training_and_testing_on_cpu(toy_ade, tmp_path):
    """Two processes through the dist scripts; mmseg's SyncBN configs run as
    plain BN on each CPU rank."""
    work_dir = tmp_path / 'dist'
    options = loader_options(toy_ade, **{
        'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4,
        'default_hooks.checkpoint.interval': 4, 'default_hooks.logger.interval': 1})
    proc = run_distributed('dist_train.sh', TOY_CONFIG, '2', '--work-dir', str(work_dir),
                           *as_argv(options), port=29518)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work_dir / 'iter_4.pth').is_file()
    text = '\n'.join(p.read_text() for p in work_dir.rglob('*.log'))
    assert 'Distributed training: True' in text
    # 16 validation images at 8 per batch on each of 2 ranks: one iteration.
    assert 'Iter(val) [1/1]' in text
    proc = run_distributed('dist_test.sh', TOY_CONFIG, str(work_dir / 'iter_4.pth'), '2',
                           '--work-dir', str(tmp_path / 'test'), *as_argv(options), port=29518)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mIoU' in proc.stdout


@pytest.mark.slow
def test_sigterm_to_the_whole_distributed_job_saves_and_resumes(toy_ade, tmp_path):
    """``tools/dist_train.sh`` with two ranks and two persistent data workers
    each, signalled as one process group the way SLURM pre-empts a job step:
    every process stops after the same iteration, that iteration is saved
    whole, the script exits with 143 and rank 0's one ``stopped:`` line, and
    ``--resume`` finishes the run."""
    work_dir = tmp_path / 'dist'
    options = loader_options(toy_ade, **{
        'train_cfg.max_iters': 40, 'train_cfg.val_interval': 40,
        'default_hooks.checkpoint.interval': 2, 'default_hooks.logger.interval': 1,
        'train_dataloader.num_workers': 2, 'train_dataloader.persistent_workers': True})
    env = dict(os.environ, PYTHON=sys.executable, PORT='29519', OMP_NUM_THREADS='1')
    command = ['bash', 'tools/dist_train.sh', TOY_CONFIG, '2', '--work-dir', str(work_dir),
               *as_argv(options)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while not (work_dir / 'iter_2.pth').exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 143, stderr[-3000:]
    stopped = [line for line in stderr.splitlines() if line.startswith('stopped: ')]
    assert len(stopped) == 1, stderr[-3000:]
    assert 'DataLoader worker' not in stderr
    step = int(stopped[0].split('after iteration ')[1].split(':')[0])
    assert 2 <= step < 40 and checkpoint_problem(str(work_dir / f'iter_{step}.pth')) is None

    proc = run_distributed('dist_train.sh', TOY_CONFIG, '2', '--work-dir', str(work_dir),
                           '--resume', *as_argv(options), port=29519)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert checkpoint_problem(str(work_dir / 'iter_40.pth')) is None


def test_a_data_root_that_is_a_file_is_named_as_such(tmp_path):
    not_a_folder = tmp_path / 'ade.zip'
    not_a_folder.write_bytes(b'PK')
    line = error_line(run_tool('train.py', TOY_CONFIG, '--work-dir', str(tmp_path / 'w'),
                               '--cfg-options', f'train_dataloader.dataset.data_root={not_a_folder}',
                               timeout=300))
    assert line == (f'error: BaseSegDataset data_root {not_a_folder} (train_dataloader) is a file, '
                    'not a folder; point train_dataloader.dataset.data_root at the folder that '
                    'holds the data.')
