"""Crash safety and exact resume, config checks at build time, training curves.

The end-to-end tests train the toy configs for a few iterations on CPU in
subprocesses (``tools/train.py``), kill one with SIGKILL and resume it.
"""
import glob
import json
import os
import os.path as osp
import random
import runpy
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from fasternet_dense import ConfigError, MissingFileError, cli
from fasternet_dense.logplot import default_keys, find_scalar_files, plot_scalars, read_scalars
from fasternet_dense.preflight import check_model_config
from fasternet_dense.fileio import remove_stale_temp_files
from fasternet_dense.resume import (StepSeedHook, checkpoint_problem,
                                    find_resumable_checkpoint, reseed,
                                    save_checkpoint)
from fasternet_dense.toydata import make_toy_ade

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_CONFIG = osp.join(ROOT, 'configs', 'semfpn_fasternet_t0_toyade.py')
DET_CONFIG = osp.join(ROOT, 'configs', 'maskrcnn_fasternet_t0_toycoco.py')


def fake_checkpoint(path, value=0.0, size=1000):
    state = {'w': torch.full((size, ), value)}
    save_checkpoint({'meta': {'iter': int(value)}, 'state_dict': state}, str(path))


# ------------------------------------------------------------ atomic saving
def test_mmengine_saving_and_resume_go_through_this_package():
    import mmengine.hooks.checkpoint_hook as hook_module
    import mmengine.runner as runner_pkg
    import mmengine.runner.checkpoint as ckpt_module
    import mmengine.runner.runner as runner_module
    from fasternet_dense import resume
    for module in (runner_pkg, ckpt_module, runner_module):
        assert module.save_checkpoint is resume.save_checkpoint
        assert module.find_latest_checkpoint is resume.find_resumable_checkpoint
    assert hook_module.open is resume._checkpoint_hook_open


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'iter_2.pth'
    fake_checkpoint(path, 1.0)
    before = path.read_bytes()

    def dies_halfway(obj, f):
        f.write(b'PK\x03\x04 partial')
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, 'save', dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        fake_checkpoint(path, 2.0)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth']


def test_last_checkpoint_record_is_written_atomically(tmp_path):
    import mmengine.hooks.checkpoint_hook as hook_module
    record = tmp_path / 'last_checkpoint'
    with hook_module.open(str(record), 'w') as f:
        f.write('work/iter_2.pth')
    assert record.read_text() == 'work/iter_2.pth'
    with pytest.raises(RuntimeError):
        with hook_module.open(str(record), 'w') as f:
            f.write('work/iter_')
            raise RuntimeError('killed')
    assert record.read_text() == 'work/iter_2.pth'
    assert os.listdir(tmp_path) == ['last_checkpoint']


SAVE_LOOP = """
import sys, torch
import fasternet_dense
from mmengine.runner.checkpoint import save_checkpoint
path = sys.argv[1]
i = 0
while True:
    state = {'w': torch.full((4_000_000, ), float(i))}
    save_checkpoint({'meta': {'iter': i}, 'state_dict': state}, path)
    print(i, flush=True)
    i += 1
"""


def test_sigkill_during_saving_never_leaves_a_truncated_checkpoint(tmp_path):
    """Kill a process that saves 16 MB checkpoints back to back, at random
    moments; the file is always complete, and the temporary file it leaves
    is cleaned up."""
    path = str(tmp_path / 'iter_1.pth')
    rng = random.Random(0)
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, '-c', SAVE_LOOP, path], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # one save finished
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert checkpoint_problem(path) is None
        state = torch.load(path, weights_only=True)
        assert state['state_dict']['w'].eq(float(state['meta']['iter'])).all()
    remove_stale_temp_files(str(tmp_path))
    assert os.listdir(tmp_path) == ['iter_1.pth']


# ---------------------------------------------------- choosing a checkpoint
def test_checkpoint_problem_finds_truncation_and_corruption(tmp_path):
    path = tmp_path / 'iter_2.pth'
    fake_checkpoint(path, 3.0, size=20000)
    assert checkpoint_problem(str(path)) is None
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    assert checkpoint_problem(str(path)).startswith('truncated or corrupt')
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert checkpoint_problem(str(path)).startswith('corrupt (checksum mismatch')
    path.write_bytes(b'')
    assert checkpoint_problem(str(path)) == 'empty (0 bytes)'
    assert checkpoint_problem(str(tmp_path / 'nope.pth')) == 'missing'


def test_resume_skips_a_truncated_newest_checkpoint(tmp_path):
    work = tmp_path
    for step in (2, 4, 6):
        fake_checkpoint(work / f'iter_{step}.pth', step)
    (work / 'last_checkpoint').write_text(str(work / 'iter_6.pth'))
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_6.pth')
    data = (work / 'iter_6.pth').read_bytes()
    (work / 'iter_6.pth').write_bytes(data[:100])
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_4.pth')
    (work / 'iter_4.pth').write_bytes(b'')
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_2.pth')


def test_resume_warns_naming_the_bad_checkpoint(tmp_path):
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('resume_warning_test', log_file=str(tmp_path / 'log.txt'))
    fake_checkpoint(tmp_path / 'epoch_1.pth', 1)
    fake_checkpoint(tmp_path / 'epoch_2.pth', 2)
    data = (tmp_path / 'epoch_2.pth').read_bytes()
    (tmp_path / 'epoch_2.pth').write_bytes(data[:len(data) - 10])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / 'log.txt').read_text()
    assert (f'Checkpoint {tmp_path / "epoch_2.pth"} is truncated or corrupt' in text
            and f'resuming from the newest complete one, {tmp_path / "epoch_1.pth"}' in text)


def test_resume_without_a_complete_checkpoint_fails_with_one_line(tmp_path):
    fake_checkpoint(tmp_path / 'iter_2.pth', 2)
    (tmp_path / 'iter_2.pth').write_bytes(b'PK\x03\x04' + b'\0' * 50)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    with pytest.raises(MissingFileError, match=r'^Cannot resume the run in .*: no complete '
                       r'checkpoint \(.*iter_2.pth is truncated or corrupt'):
        find_resumable_checkpoint(str(tmp_path))


def test_resume_with_nothing_saved_starts_afresh(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_record_with_a_relative_path_from_elsewhere(tmp_path):
    fake_checkpoint(tmp_path / 'iter_4.pth', 4)
    (tmp_path / 'last_checkpoint').write_text('some/other/cwd/iter_4.pth')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')


def test_cli_resume_errors_are_one_line(tmp_path, capsys):
    root = str(tmp_path / 'ade')
    make_toy_ade(root, num_train=4, num_val=2, image_size=64, seed=0)
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'iter_2.pth').write_bytes(b'PK\x03\x04 cut')
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    options = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
               f'val_dataloader.dataset.data_root={root}']
    assert cli.train_main([SEG_CONFIG, '--work-dir', str(work), '--resume', *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f'error: Cannot resume the run in {work}: no complete checkpoint')
    assert cli.train_main([SEG_CONFIG, '--work-dir', str(work), '--resume',
                           str(work / 'iter_2.pth'), *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f'error: Cannot resume from {work / "iter_2.pth"}: the checkpoint '
                          'is truncated or corrupt')


# ------------------------------------------------------------ step seeding
class _Loop:
    def __init__(self):
        self.dataloader_iterator = iter(range(100))


class _Runner:
    seed = 7
    epoch = 0
    iter = 0

    def __init__(self):
        self.train_loop = _Loop()


def test_step_seeds_do_not_depend_on_history():
    hook = StepSeedHook()
    hook._base = 7
    draws = []
    for history in (0, 5):
        runner = _Runner()
        torch.rand(history)
        np.random.rand(history)
        hook.before_train_epoch(runner)
        fetched = [next(runner.train_loop.dataloader_iterator) for _ in range(3)]
        batch = np.random.rand(2)
        runner.iter = 3
        torch.rand(history + 1)
        hook.before_train_iter(runner, batch_idx=3)
        draws.append((fetched, batch.tolist(), torch.rand(3).tolist(), random.random()))
    assert draws[0] == draws[1]
    reseed(7, 1, 3)
    other = torch.rand(3).tolist()
    reseed(7, 1, 4)
    assert torch.rand(3).tolist() != other


def test_cli_adds_step_seed_hook_once():
    cfg = Config(dict(custom_hooks=[dict(type='EMAHook')]))
    from fasternet_dense.resume import add_step_seed_hook
    add_step_seed_hook(cfg)
    add_step_seed_hook(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == ['EMAHook', 'StepSeedHook']


# ------------------------------------------------------------ config checks
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
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'maskrcnn_fasternet_m_coco.py'))
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


# ------------------------------------------------------------------ curves
def write_scalars(path, records):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')


def test_plot_log_merges_runs_and_draws_curves(tmp_path, monkeypatch, capsys):
    work = tmp_path / 'work'
    first = [dict(lr=1e-3, loss=2.0 - 0.1 * i, loss_cls=1.0, time=0.1, data_time=0.01,
                  epoch=1, iter=i, memory=10, step=i) for i in range(1, 7)]
    first.append({'coco/bbox_mAP': 0.1, 'coco/segm_mAP': 0.05, 'coco/bbox_mAP_50': 0.2,
                  'data_time': 0.1, 'time': 0.2, 'step': 1})
    write_scalars(str(work / '20240101_000000' / 'vis_data' / 'scalars.json'), first)
    # A resumed run repeats steps 5 and 6 and goes on; its last line was cut off.
    second = [dict(lr=1e-3, loss=1.0, loss_cls=0.5, time=0.1, data_time=0.01, epoch=2, iter=i,
                   step=i) for i in range(5, 11)]
    second.append({'coco/bbox_mAP': 0.3, 'coco/segm_mAP': 0.2, 'step': 2})
    path = str(work / '20240101_010000' / 'vis_data' / 'scalars.json')
    write_scalars(path, second)
    with open(path, 'a') as f:
        f.write('{"loss": 0.')

    train, val, by_epoch = read_scalars(find_scalar_files(str(work)))
    assert by_epoch
    assert sorted(train['loss']) == list(range(1, 11))
    assert train['loss'][5] == 1.0 and train['loss'][4] == pytest.approx(1.6)
    assert val == {'coco/bbox_mAP': {1: 0.1, 2: 0.3}, 'coco/segm_mAP': {1: 0.05, 2: 0.2},
                   'coco/bbox_mAP_50': {1: 0.2}}
    assert 'time' not in train and 'memory' not in train
    assert default_keys(train, val) == ['loss', 'loss_cls', 'coco/bbox_mAP', 'coco/segm_mAP']
    assert default_keys({'loss': {}, 'decode.loss_ce': {}, 'decode.acc_seg': {}},
                        {'aAcc': {}, 'mIoU': {}}) == ['loss', 'decode.loss_ce', 'mIoU']

    out = str(tmp_path / 'curves.png')
    assert plot_scalars(str(work), out) == out
    import matplotlib.image
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 400 and image.shape[1] == 800

    monkeypatch.setattr(sys, 'argv', ['plot_log.py', path, '--keys', 'loss', 'coco/segm_mAP',
                                      '--out', str(tmp_path / 'two.png')])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(osp.join(ROOT, 'tools', 'plot_log.py'), run_name='__main__')
    assert exit_info.value.code == 0 and osp.isfile(tmp_path / 'two.png')
    assert capsys.readouterr().out == f'wrote {tmp_path / "two.png"}\n'
    with pytest.raises(ConfigError, match=r'^mIoU not in the log; it has training keys '
                       r"\['loss', 'loss_cls', 'lr'\] and validation keys \['coco/bbox_mAP', "):
        plot_scalars(str(work), out, ['mIoU'])


def test_plot_log_without_scalars_says_what_to_configure(tmp_path):
    with pytest.raises(MissingFileError, match='LocalVisBackend'):
        plot_scalars(str(tmp_path), str(tmp_path / 'x.png'))


# -------------------------------------------------------------- end to end
def seg_options(root):
    """The toy segmentation config shrunk to 8 iterations of batch 2 on 64 px
    crops, a checkpoint every 2 iterations, deterministic, bad samples left
    out."""
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.batch_size=2',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.2.scale=(128,64)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(64,64)', 'model.data_preprocessor.size=(64,64)',
        'train_cfg.max_iters=8', 'train_cfg.val_interval=8',
        'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=3',
        'default_hooks.logger.interval=1', 'randomness.seed=0', 'randomness.deterministic=True',
        'data_check.skip_bad=True']


def train_command(config, work_dir, options, *extra):
    return [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir), *extra,
            '--cfg-options', *options]


def train(config, work_dir, options, *extra):
    result = subprocess.run(train_command(config, work_dir, options, *extra), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def assert_same_training_state(expected_path, actual_path):
    """Weights, optimizer and scheduler states equal bit for bit."""
    from fasternet_dense import safe_torch_load
    expected = safe_torch_load(str(expected_path), map_location='cpu')
    actual = safe_torch_load(str(actual_path), map_location='cpu')
    assert expected['meta']['iter'] == actual['meta']['iter']
    assert expected['state_dict'].keys() == actual['state_dict'].keys()
    differing = [k for k, v in expected['state_dict'].items()
                 if not torch.equal(v, actual['state_dict'][k])]
    assert not differing, f'{len(differing)} tensors differ, e.g. {differing[:3]}'
    for group, other in zip(expected['optimizer']['state'].values(),
                            actual['optimizer']['state'].values()):
        for key, value in group.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(other[key])), key
    assert expected['param_schedulers'] == actual['param_schedulers']


@pytest.fixture(scope='module')
def seg_reference(tmp_path_factory):
    """An uninterrupted toy segmentation run, started in the background so
    that it overlaps the run a test kills. Two of its 16 training samples are
    bad (a truncated image, a label value beyond the classes), so every run
    also trains with ``data_check.skip_bad``."""
    base = tmp_path_factory.mktemp('seg')
    root = str(base / 'ade')
    make_toy_ade(root, num_train=16, num_val=4, image_size=64, seed=0)
    image = osp.join(root, 'images', 'training', 'toy_train_000003.jpg')
    with open(image, 'rb') as f:
        data = f.read()
    with open(image, 'wb') as f:
        f.write(data[:len(data) // 2])
    label = osp.join(root, 'annotations', 'training', 'toy_train_000010.png')
    cv2.imwrite(label, np.full((64, 64), 9, np.uint8))
    options = seg_options(root)
    work = base / 'reference'
    log = open(base / 'reference.log', 'w')
    proc = subprocess.Popen(train_command(SEG_CONFIG, work, options), cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)

    def finished():
        proc.wait(timeout=300)
        log.flush()
        assert proc.returncode == 0, (base / 'reference.log').read_text()[-3000:]
        return work

    yield SimpleNamespace(base=base, options=options, finished=finished)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


@pytest.mark.slow
def test_training_killed_at_a_random_moment_resumes_to_identical_weights(seg_reference):
    """SIGKILL a toy segmentation run after a random checkpoint plus a
    random delay (possibly while it saves), resume it with --resume: its
    final weights, optimizer state, losses at every iteration and final
    mIoU equal those of an uninterrupted run exactly."""
    options, run = seg_reference.options, seg_reference.base / 'killed'
    kill_seed = int(os.environ.get('KILL_SEED', time.time_ns() % 10**6))
    rng = random.Random(kill_seed)
    after, delay = rng.choice([2, 4]), rng.uniform(0.0, 1.0)
    note = f'(KILL_SEED={kill_seed}: killed {delay:.2f} s after iter_{after}.pth)'
    with open(seg_reference.base / 'killed.log', 'w') as log:
        proc = subprocess.Popen(train_command(SEG_CONFIG, run, options), cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 240
        while not osp.exists(run / f'iter_{after}.pth'):
            assert proc.poll() is None and time.time() < deadline, note
            time.sleep(0.02)
        time.sleep(delay)
        assert proc.poll() is None, f'the run finished before the kill {note}'
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not osp.exists(run / 'iter_8.pth'), note

    output = train(SEG_CONFIG, run, options, '--resume')
    assert 'Advance dataloader' in output, note
    ref = seg_reference.finished()
    # A run's work dir has the text log and the scalar log.
    assert glob.glob(str(ref / '*' / '*.log'))
    assert glob.glob(str(ref / '*' / 'vis_data' / 'scalars.json'))
    console = (seg_reference.base / 'reference.log').read_text()
    assert 'data_check.skip_bad is set, so 2 of 16 samples are left out' in console
    assert_same_training_state(ref / 'iter_8.pth', run / 'iter_8.pth')
    ref_train, ref_val, _ = read_scalars(find_scalar_files(str(ref)))
    run_train, run_val, _ = read_scalars(find_scalar_files(str(run)))
    assert run_train['loss'] == ref_train['loss'], note
    assert sorted(ref_train['loss']) == list(range(1, 9))
    assert run_val['mIoU'] == ref_val['mIoU'] and list(ref_val['mIoU']) == [8], note
    out = str(seg_reference.base / 'curves.png')
    plot_scalars(str(run), out)
    assert osp.getsize(out) > 10000


@pytest.mark.slow
def test_resume_skips_a_truncated_newest_checkpoint_and_ends_identical(seg_reference, tmp_path):
    """Truncate the newest checkpoint of a finished run and resume: the run
    warns, goes back to the previous checkpoint and ends with the same
    weights as before."""
    ref = seg_reference.finished()
    work = tmp_path / 'work'
    os.makedirs(work)
    for name in ('iter_4.pth', 'iter_6.pth', 'iter_8.pth'):
        shutil.copy(ref / name, work / name)
    newest = work / 'iter_8.pth'
    data = newest.read_bytes()
    newest.write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').write_text(str(newest))

    output = train(SEG_CONFIG, work, seg_reference.options, '--resume')
    assert (f'Checkpoint {newest} is truncated or corrupt' in output
            and f'resuming from the newest complete one, {work / "iter_6.pth"}' in output)
    assert 'Advance dataloader 6 steps' in output
    assert_same_training_state(ref / 'iter_8.pth', newest)
