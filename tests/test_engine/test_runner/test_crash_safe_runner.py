"""Whole-or-nothing checkpoints in plain data that resume exactly, a failed
save in one line, and end to end a toy training killed with SIGKILL or
SIGTERM and resumed to the weights of an uninterrupted run
(``tools/train.py`` in subprocesses on CPU)."""
import copy
import glob
import os
import os.path as osp
import pickle
import random
import re
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
from conftest import (ROOT, Messages, config_path, fake_checkpoint, linear_regressor, mount_tmpfs,
                      tiny_runner)
from mmengine.hooks import Hook

from fasternet_dense import safe_torch_load
from fasternet_dense.cli.plot_log import find_scalar_files, plot_scalars, read_scalars
from fasternet_dense.datasets.toydata import make_toy_ade
from fasternet_dense.engine.runner.checkpoints import checkpoint_problem, find_resumable_checkpoint
from fasternet_dense.utils.checkpoint import from_plain
from fasternet_dense.utils.fileio import remove_stale_temp_files

SEG_CONFIG = config_path('semfpn_fasternet_t0_toyade.py')


# ------------------------------------------------------------ plain checkpoints
class NumpyMetainfoData(torch.utils.data.Dataset):
    """Eight regression samples; the dataset's ``metainfo`` holds numpy data,
    as a user's dataset may."""
    metainfo = dict(classes=('disc', 'box'), palette=np.uint8([[1, 2, 3], [4, 5, 6]]),
                    scale=np.float32(0.5))

    def __init__(self):
        gen = torch.Generator().manual_seed(1)
        self.samples = [dict(inputs=torch.randn(4, generator=gen), labels=torch.tensor(i % 3.0))
                        for i in range(8)]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


class HubRecorder(Hook):
    """Puts numpy values in the message hub, as metrics and hooks do, and
    keeps copies of the hub each checkpoint saves and of the hub a resumed
    run starts with."""
    priority = 'HIGHEST'

    def __init__(self):
        self.saved, self.started, self.started_at = [], None, None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        runner.message_hub.update_info('val/per_class', np.float32([0.5, 0.25]) * runner.iter)
        runner.message_hub.update_info('best_score', np.float64(runner.iter / 3))

    def before_save_checkpoint(self, runner, checkpoint):
        self.saved.append(copy.deepcopy(checkpoint['message_hub']))

    def before_train(self, runner):
        self.started = copy.deepcopy(runner.message_hub.state_dict())
        self.started_at = runner.iter


def _regression_runner(work_dir, max_iters, hook, **extra):
    """A linear regression on :class:`NumpyMetainfoData` with ``hook``, a
    checkpoint every 4 iterations."""
    return tiny_runner(work_dir, linear_regressor(), NumpyMetainfoData(), max_iters, lr=0.05, interval=4,
                       hooks=[hook], randomness=dict(seed=0), **extra)


def assert_same_message_hub(got: dict, want: dict) -> None:
    """Two ``MessageHub.state_dict()``: equal log buffers (values, counts,
    dtypes, lengths), runtime values pickled alike (so of the same types) and
    equal resumed keys."""
    assert list(got['log_scalars']) == list(want['log_scalars'])
    for key, buffer in want['log_scalars'].items():
        restored = got['log_scalars'][key]
        assert type(restored) is type(buffer) and restored.max_length == buffer.max_length, key
        for a, b in zip(restored.data, buffer.data):
            assert a.dtype == b.dtype and np.array_equal(a, b), key
    assert got['runtime_info'].keys() == want['runtime_info'].keys()
    for key, value in want['runtime_info'].items():
        assert pickle.dumps(got['runtime_info'][key]) == pickle.dumps(value), key
    assert got['resumed_keys'] == want['resumed_keys']


PLAIN_LOAD = """
import sys, torch
checkpoint = torch.load(sys.argv[1], weights_only=True)
buffer = checkpoint['message_hub']['log_scalars']['train/loss']
print('fasternet_dense' in sys.modules, type(buffer).__name__, len(buffer['log_history']),
      checkpoint['meta']['iter'], checkpoint['meta']['dataset_meta']['classes'])
"""


@pytest.mark.parametrize('written', ['plain', 'with pickled log buffers'])
def test_checkpoints_are_plain_data_and_resume_restores_the_message_hub_exactly(tmp_path, written):
    """A checkpoint opens with torch's default ``weights_only`` loader in a
    process without this package; resuming from it (or from a checkpoint of
    mmengine's own layout, with pickled log buffers) restores the message
    hub exactly as it was saved, numpy values and dataset metainfo included,
    and the run goes on from its iteration."""
    recorder = HubRecorder()
    _regression_runner(tmp_path, 4, recorder).train()
    path = tmp_path / 'iter_4.pth'
    proc = subprocess.run([sys.executable, '-c', PLAIN_LOAD, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ['False', 'dict', '4', '4', "('disc',", "'box')"]
    if written != 'plain':
        checkpoint = safe_torch_load(str(path))
        torch.save({key: from_plain(value) for key, value in checkpoint.items()}, path)

    resumed_recorder = HubRecorder()
    resumed = _regression_runner(tmp_path, 6, resumed_recorder, resume=True, load_from=str(path))
    handler = Messages()
    resumed.logger.addHandler(handler)
    try:
        resumed.train()
    finally:
        resumed.logger.removeHandler(handler)
    messages = handler.lines
    assert_same_message_hub(resumed_recorder.started, recorder.saved[-1])
    assert resumed_recorder.started_at == 4 and resumed.iter == 6
    assert not [m for m in messages if 'metainfo from the resumed checkpoint is different' in m]
    assert not [m for m in messages if 'torch.load(weights_only=True) refuses' in m]
    assert len(resumed.message_hub.get_scalar('train/loss').data[0]) == 6


class PutsAFraction(Hook):
    """Keeps an object torch's safe loader refuses in the message hub."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        from fractions import Fraction
        runner.message_hub.update_info('odd', Fraction(runner.iter, 3))


def test_an_entry_no_safe_loader_reads_is_named_once(tmp_path):
    runner = _regression_runner(tmp_path, 8, PutsAFraction())
    handler = Messages()
    runner.logger.addHandler(handler)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(handler)
    warned = [m for m in handler.lines if m.startswith('Checkpoint entry')]
    assert warned == [
        'Checkpoint entry message_hub.runtime_info.odd is a fractions.Fraction, which '
        'torch.load(weights_only=True) refuses, so the checkpoint will not load; store plain '
        'numbers, strings, lists, dicts or tensors there instead.']
    assert (tmp_path / 'iter_4.pth').exists() and (tmp_path / 'iter_8.pth').exists()


# ------------------------------------------------------------ atomic saving
TINY_RUNNER = """
import sys, torch
from torch.utils.data import DataLoader
from fasternet_dense import CrashSafeRunner

class Tiny(torch.nn.Module):
    def __init__(self, size):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(size))

    def forward(self, *args, **kwargs):
        return {}

def tiny_runner(work_dir, size):
    return CrashSafeRunner(
        model=Tiny(size), work_dir=work_dir, train_dataloader=DataLoader([0, 1]),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), default_hooks={})
"""


def test_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    namespace = {}
    exec(TINY_RUNNER, namespace)
    runner = namespace['tiny_runner'](str(tmp_path / 'work'), 1000)
    save = dict(save_optimizer=False, save_param_scheduler=False)
    runner.save_checkpoint(str(tmp_path), 'iter_2.pth', **save)
    before = (tmp_path / 'iter_2.pth').read_bytes()

    def dies_halfway(obj, f, *args, **kwargs):
        f.write(b'PK\x03\x04 partial')
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, 'save', dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        runner.save_checkpoint(str(tmp_path), 'iter_2.pth', **save)
    assert (tmp_path / 'iter_2.pth').read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'work']


@pytest.mark.parametrize('failure', ['no space', 'permission', 'torch writer'])
def test_a_failed_checkpoint_write_stops_with_one_line_and_keeps_the_last_one(
        tmp_path, monkeypatch, failure):
    """The OS error by name, the size needed and free, the intact previous
    checkpoint and --resume, in one line; the previous file and the record
    stay as they were and resuming picks them."""
    import errno
    import shutil
    from collections import namedtuple

    from mmengine.fileio.backends.local_backend import LocalBackend

    from fasternet_dense.engine.runner.checkpoints import (checkpoint_problem,
                                                           find_resumable_checkpoint)
    from fasternet_dense.utils.errors import CheckpointWriteError
    namespace = {}
    exec(TINY_RUNNER, namespace)
    work = tmp_path / 'work'
    runner = namespace['tiny_runner'](str(work), 250_000)  # 1 MB of weights
    save = dict(save_optimizer=False, save_param_scheduler=False)
    runner.save_checkpoint(str(work), 'iter_2.pth', **save)
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    before = (work / 'iter_2.pth').read_bytes()
    code = errno.EACCES if failure == 'permission' else errno.ENOSPC

    def put_fails(self, obj, filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:1000])
        raise OSError(code, os.strerror(code), str(filepath))

    def torch_fails(obj, f, *args, **kwargs):
        raise RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos '
                           '19422528 vs 19422420')

    if failure == 'torch writer':
        monkeypatch.setattr(torch, 'save', torch_fails)
        usage = namedtuple('usage', 'total used free')
        monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage(2**30, 2**30 - 4096, 4096))
    else:
        monkeypatch.setattr(LocalBackend, 'put', put_fails)
    with pytest.raises(CheckpointWriteError) as err:
        runner.save_checkpoint(str(work), 'iter_4.pth', **save)
    message = str(err.value)
    assert '\n' not in message
    reason = 'Permission denied' if failure == 'permission' else 'No space left on device'
    assert message.startswith(f'Could not write checkpoint {work / "iter_4.pth"}: {reason}.')
    assert 'It needs about 1 MB' in message and ' free in ' in message
    assert 'the previous checkpoint iter_2.pth is intact' in message
    assert message.endswith('continue from it with --resume.')
    monkeypatch.undo()
    assert (work / 'iter_2.pth').read_bytes() == before
    saved = [n for n in os.listdir(work) if n.endswith(('.pth', '.tmp')) or n == 'last_checkpoint']
    assert sorted(saved) == ['iter_2.pth', 'last_checkpoint']  # no part of iter_4 left
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert checkpoint_problem(str(work / 'iter_2.pth')) is None
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_2.pth')


@pytest.fixture
def small_filesystem(tmp_path):
    """A 1.6 MB tmpfs mounted for the test."""
    yield from mount_tmpfs(tmp_path / 'small', 'size=1600k')


def test_a_full_small_filesystem_stops_the_save_with_one_line(small_filesystem):
    """A real full disk: the second 1 MB checkpoint does not fit beside the
    first on a 1.6 MB file system."""
    from fasternet_dense.engine.runner.checkpoints import (checkpoint_problem,
                                                           find_resumable_checkpoint)
    from fasternet_dense.utils.errors import CheckpointWriteError
    namespace = {}
    exec(TINY_RUNNER, namespace)
    work = small_filesystem / 'work'
    runner = namespace['tiny_runner'](str(work), 250_000)
    save = dict(save_optimizer=False, save_param_scheduler=False)
    runner.save_checkpoint(str(work), 'iter_2.pth', **save)
    (work / 'last_checkpoint').write_text(str(work / 'iter_2.pth'))
    before = (work / 'iter_2.pth').read_bytes()
    with pytest.raises(CheckpointWriteError) as err:
        runner.save_checkpoint(str(work), 'iter_4.pth', **save)
    message = str(err.value)
    assert '\n' not in message
    assert message.startswith(f'Could not write checkpoint {work / "iter_4.pth"}: No space left '
                              'on device.')
    assert 'It needs about 1 MB' in message and 'the previous checkpoint iter_2.pth is intact' in message
    assert (work / 'iter_2.pth').read_bytes() == before
    saved = [n for n in os.listdir(work) if n.endswith(('.pth', '.tmp')) or n == 'last_checkpoint']
    assert sorted(saved) == ['iter_2.pth', 'last_checkpoint']
    assert checkpoint_problem(str(work / 'iter_2.pth')) is None
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_2.pth')


SAVE_LOOP = TINY_RUNNER + """
work_dir, out_dir = sys.argv[1:]
runner = tiny_runner(work_dir, 4_000_000)
i = 0
while True:
    runner.model.w.data.fill_(float(i))
    runner.save_checkpoint(out_dir, 'iter_1.pth', save_optimizer=False,
                           save_param_scheduler=False, meta=dict(step=i))
    print(i, flush=True)
    i += 1
"""


def test_sigkill_during_saving_never_leaves_a_truncated_checkpoint(tmp_path):
    """Kill a process whose runner saves 16 MB checkpoints back to back, at
    random moments; the file is always complete, and the temporary file it
    leaves is cleaned up."""
    out = tmp_path / 'out'
    out.mkdir()
    path = str(out / 'iter_1.pth')
    rng = random.Random(0)
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, '-c', SAVE_LOOP, str(tmp_path / 'work'),
                                 str(out)], stdout=subprocess.PIPE, text=True)
        while not proc.stdout.readline().strip().isdigit():  # until one save finished
            assert proc.poll() is None, 'the saving process stopped'
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert checkpoint_problem(path) is None
        state = safe_torch_load(path, map_location='cpu')
        assert state['state_dict']['w'].eq(float(state['meta']['step'])).all()
    remove_stale_temp_files(str(out))
    assert os.listdir(out) == ['iter_1.pth']


def test_a_torn_last_checkpoint_record_falls_back_to_the_newest_complete(tmp_path):
    """mmengine's CheckpointHook writes ``last_checkpoint`` in place; a kill
    in that moment leaves part of a path."""
    for step in (2, 4):
        fake_checkpoint(tmp_path / f'iter_{step}.pth', step)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text('')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')


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
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', str(work_dir), *extra,
            '--cfg-options', *options]


def train(config, work_dir, options, *extra):
    result = subprocess.run(train_command(config, work_dir, options, *extra), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def assert_same_training_state(expected_path, actual_path):
    """Weights, optimizer and scheduler states equal bit for bit."""
    expected = safe_torch_load(str(expected_path), map_location='cpu')
    actual = safe_torch_load(str(actual_path), map_location='cpu')
    assert expected['meta']['iter'] == actual['meta']['iter']
    assert expected['state_dict'].keys() == actual['state_dict'].keys()
    differing = [k for k, v in expected['state_dict'].items()
                 if not torch.equal(v, actual['state_dict'][k])]
    assert not differing, f'{len(differing)} tensors differ, e.g. {differing[:3]}'
    states, other_states = expected['optimizer']['state'], actual['optimizer']['state']
    assert states and states.keys() == other_states.keys()
    for index, state in states.items():
        assert state.keys() == other_states[index].keys(), index
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value),
                               torch.as_tensor(other_states[index][key])), (index, key)
    assert expected['optimizer']['param_groups'] == actual['optimizer']['param_groups']
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


def signal_a_training(reference, name: str, signum, seed_variable: str, max_delay: float):
    """Start the toy segmentation training into ``reference.base / name``,
    wait for a random one of its checkpoints 2 and 4, wait a random moment
    more and send ``signum``; returns the finished process, the checkpoint
    step it waited for and a note that names the seed (``seed_variable`` in
    the environment repeats it)."""
    run = reference.base / name
    seed = int(os.environ.get(seed_variable, time.time_ns() % 10**6))
    rng = random.Random(seed)
    after, delay = rng.choice([2, 4]), rng.uniform(0.0, max_delay)
    note = (f'({seed_variable}={seed}: {signal.Signals(signum).name} {delay:.2f} s after '
            f'iter_{after}.pth)')
    with open(reference.base / f'{name}.log', 'w') as log:
        proc = subprocess.Popen(train_command(SEG_CONFIG, run, reference.options), cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 240
        while not osp.exists(run / f'iter_{after}.pth'):
            assert proc.poll() is None and time.time() < deadline, note
            time.sleep(0.02)
        time.sleep(delay)
        assert proc.poll() is None, f'the run finished before the signal {note}'
        proc.send_signal(signum)
        proc.wait(timeout=120)
    return proc, after, note


@pytest.mark.slow
def test_training_killed_at_a_random_moment_resumes_to_identical_weights(seg_reference):
    """SIGKILL a toy segmentation run after a random checkpoint plus a
    random delay (possibly while it saves), resume it with --resume: its
    final weights, optimizer state, losses at every iteration and final
    mIoU equal those of an uninterrupted run exactly."""
    options, run = seg_reference.options, seg_reference.base / 'killed'
    proc, after, note = signal_a_training(seg_reference, 'killed', signal.SIGKILL, 'KILL_SEED',
                                          max_delay=1.0)
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
def test_sigterm_at_a_random_moment_saves_and_resumes_to_identical_weights(seg_reference):
    """SIGTERM a toy segmentation run at a random moment, as a scheduler
    pre-empting it would: it finishes the iteration, writes iter_N.pth, stops
    with one line and the signal's exit code, and --resume ends with the
    uninterrupted run's weights, optimizer state and losses exactly."""
    options, run = seg_reference.options, seg_reference.base / 'terminated'
    proc, after, note = signal_a_training(seg_reference, 'terminated', signal.SIGTERM,
                                          'TERM_SEED', max_delay=0.5)
    console = (seg_reference.base / 'terminated.log').read_text()
    if proc.returncode == 0:
        # The signal came during the closing validation, after the last
        # iteration had been saved: the run ended as it would have.
        assert 'Iter(val) [2/2]' in console, console[-3000:] + note
    else:
        assert proc.returncode == 128 + signal.SIGTERM, console[-3000:] + note
        stopped = [line for line in console.splitlines() if line.startswith('stopped: ')]
        assert len(stopped) == 1 and 'continue with tools/train.py CONFIG --resume' in stopped[0]
        step = int(re.search(r'after iteration (\d+)', stopped[0]).group(1))
        assert after <= step <= 8, note
        assert checkpoint_problem(str(run / f'iter_{step}.pth')) is None, note
        train(SEG_CONFIG, run, options, '--resume')
    ref = seg_reference.finished()
    assert_same_training_state(ref / 'iter_8.pth', run / 'iter_8.pth')
    ref_train, _, _ = read_scalars(find_scalar_files(str(ref)))
    run_train, _, _ = read_scalars(find_scalar_files(str(run)))
    assert run_train['loss'] == ref_train['loss'], note


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
