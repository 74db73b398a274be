"""Safe checkpoint loading (nothing pickled outside the allow-list runs),
and damaged or foreign checkpoints refused by tools/test.py in one line."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import ROOT, Messages, as_argv, error_line, loader_options, run_tool

from fasternet_dense import UnsafeCheckpointError
from fasternet_dense.models.backbones.fasternet import load_pretrained_state_dict


# ------------------------------------------------------------------ safe loading
class Payload:
    """Pickles to a call that would create a marker file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_foreign_pickled_object_is_refused_and_not_run(tmp_path):
    from mmengine.runner import CheckpointLoader
    marker = tmp_path / 'marker'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': Payload(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'Refused to load .*evil\.pth.*pickled object io\.open'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(UnsafeCheckpointError):
        load_pretrained_state_dict(str(path))
    assert not marker.exists()


class AttributePayload:
    """Pickles to ``getattr(numpy.ndarray, 'tofile')``: a lookup outside the
    statistics methods that mmengine's log buffers need."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_getattr_beyond_log_buffer_methods_is_refused(tmp_path):
    path = tmp_path / 'attr.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': AttributePayload()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'attr\.pth.*builtins\.getattr'):
        load_pretrained_state_dict(str(path))


def _tiny_runner(work_dir, max_iters, resume=False):
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Net(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, inputs, labels=None, mode='loss'):
            inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
            return dict(loss=(self.linear(inputs).squeeze(1) - labels.float()).square().mean())

    data = [dict(inputs=torch.randn(2), labels=torch.tensor(1.0)) for _ in range(8)]
    return Runner(
        model=Net(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        resume=resume, default_scope='mmengine', experiment_name=f'exp{max_iters}')


def test_mmengine_checkpoint_resumes_with_safe_loading(tmp_path):
    runner = _tiny_runner(tmp_path, max_iters=2)
    runner.train()
    ckpt = tmp_path / 'iter_2.pth'
    assert ckpt.exists()
    # Plain safe loading does not know mmengine's log buffers...
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(ckpt, weights_only=True)
    # ...the allow-list does, and resuming goes through it.
    resumed = _tiny_runner(tmp_path, max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert (tmp_path / 'iter_4.pth').exists()


@pytest.fixture(scope='module')
def small_toy_ade(tmp_path_factory):
    from fasternet_dense.datasets.toydata import make_toy_ade
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(str(root), num_train=8, num_val=8)
    return root


def _full_checkpoint(config, path, options=None):
    """A checkpoint holding every weight of ``config``'s model (random)."""
    from fasternet_dense.apis.config import load_config
    from fasternet_dense.apis.inference import build_model
    model = build_model(load_config(config, options))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_a_truncated_checkpoint_given_to_test_is_one_line(tmp_path):
    good = _full_checkpoint('semfpn_fasternet_t0_toyade', tmp_path / 'seg.pth')
    data = good.read_bytes()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    line = error_line(run_tool('test.py', 'configs/semfpn_fasternet_t0_toyade.py', str(cut)))
    assert line.startswith(f'error: Checkpoint {cut} (tools/test.py) is truncated or corrupt')
    assert 'cannot be loaded' in line


def test_a_detector_checkpoint_for_a_segmentor_is_refused_unless_allowed(small_toy_ade,
                                                                          tmp_path):
    det = _full_checkpoint('maskrcnn_fasternet_t0_toycoco', tmp_path / 'maskrcnn.pth')
    options = as_argv(loader_options(small_toy_ade))
    args = ('configs/semfpn_fasternet_t0_toyade.py', str(det), '--work-dir', str(tmp_path / 'w'))
    proc = run_tool('test.py', *args, *options)
    # The message is the last line, after the libraries' warnings while building.
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f'error: Checkpoint {det} lacks 44 of the 60 weights')
    assert 'decode_head (44 of 44)' in line  # the toy FPNs agree, the head is absent
    assert 'it looks like a two-stage detector (Mask R-CNN-like' in line
    assert '--allow-partial-checkpoint' in line
    proc = run_tool('test.py', *args, '--allow-partial-checkpoint', *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mIoU' in proc.stdout
    # The segmentor's own checkpoint passes the check.
    own = _full_checkpoint('semfpn_fasternet_t0_toyade', tmp_path / 'seg.pth')
    proc = run_tool('test.py', args[0], str(own), '--work-dir', str(tmp_path / 'w'), *options)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_text_file_renamed_pth_is_not_a_checkpoint(tmp_path, capsys):
    from fasternet_dense import cli
    from fasternet_dense.engine.runner.checkpoints import checkpoint_problem
    path = tmp_path / 'weights.pth'
    path.write_text('epoch 12, mAP 0.41\n')
    assert checkpoint_problem(str(path)) == (
        "not a checkpoint (torch writes a zip archive, or a pickle before torch 1.6; this "
        "file starts with b'epoch 12, mA')")
    config = osp.join(ROOT, 'configs', 'semfpn_fasternet_t0_ade20k.py')
    assert cli.test_main([config, str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {path} (tools/test.py) is not a checkpoint (torch writes a zip archive, or a "
        "pickle before torch 1.6; this file starts with b'epoch 12, mA'); pass a .pth file "
        'written by tools/train.py or a FasterNet release checkpoint.')


# ------------------------------------------------------------- plain checkpoints
def _history(values, counts, max_length=1000000):
    """A log buffer filled as ``MessageHub.update_scalar`` fills one: made
    with the first value (integer counts), then updated."""
    from mmengine.logging.history_buffer import HistoryBuffer
    buffer = HistoryBuffer(values[:1], counts[:1], max_length)
    for value, count in zip(values[1:], counts[1:]):
        buffer.update(value, count)
    return buffer


def test_plain_checkpoints_load_with_torchs_default_loader_and_convert_back_exactly(tmp_path):
    """Log buffers and numpy data become Python lists and numbers that
    ``torch.load(weights_only=True)`` reads; :func:`from_plain` gives back
    equal objects (values, dtypes, shapes, buffer lengths), and everything
    else (tensors, a state dict's version metadata, counters) is left as it
    was."""
    import pickle
    from collections import Counter, OrderedDict

    from fasternet_dense.utils.checkpoint import from_plain, non_plain_entries, to_plain
    state_dict = nn.BatchNorm2d(3).state_dict()
    dataset_meta = {'classes': ('disc', 'box'), 'palette': np.uint8([[1, 2, 3], [4, 5, 6]]),
                    'weights': np.float32([0.5, 2.0]), 'empty': np.zeros((0, 2)),
                    'scale': np.float64(1 / 3), 'count': np.int64(-5), 'flag': np.bool_(True),
                    'name': np.str_('toy')}
    meta = {'iter': 4, 'seed': 7, 'dataset_meta': dataset_meta}
    hub = {'log_scalars': OrderedDict([('train/loss', _history([0.25, 1 / 3], [1, 2])),
                                       ('train/lr', _history([1e-3, 2e-3, 3e-3], [1, 1, 1], 2))]),
           'runtime_info': OrderedDict([('iter', 4), ('best', np.float64(0.125))]),
           'resumed_keys': OrderedDict([('train/loss', True), ('iter', True)])}
    checkpoint = {'meta': meta, 'state_dict': state_dict, 'message_hub': hub,
                  'param_schedulers': [{'milestones': Counter({8: 1, 11: 1})}]}
    assert [path for path, _ in non_plain_entries(checkpoint)] == [
        'meta.dataset_meta.palette', 'meta.dataset_meta.weights', 'meta.dataset_meta.empty',
        'meta.dataset_meta.scale', 'meta.dataset_meta.count', 'meta.dataset_meta.flag',
        'meta.dataset_meta.name', 'message_hub.log_scalars.train/loss',
        'message_hub.log_scalars.train/lr', 'message_hub.runtime_info.best']

    plain = to_plain(checkpoint)
    assert non_plain_entries(plain) == []
    assert plain['state_dict'] is state_dict  # untouched parts are the same objects
    torch.save(plain, tmp_path / 'plain.pth')
    loaded = torch.load(tmp_path / 'plain.pth', weights_only=True)
    assert loaded['message_hub']['log_scalars']['train/lr'] == {
        '__type__': 'mmengine.HistoryBuffer', 'log_history': [2e-3, 3e-3], 'count_history': [1, 1],
        'log_dtype': '<f8', 'count_dtype': '<i8', 'max_length': 2}

    back = from_plain(loaded)
    assert pickle.dumps(back['meta']) == pickle.dumps(meta)
    assert pickle.dumps(back['message_hub']['runtime_info']) == pickle.dumps(hub['runtime_info'])
    assert back['message_hub']['resumed_keys'] == hub['resumed_keys']
    for key, buffer in hub['log_scalars'].items():
        restored = back['message_hub']['log_scalars'][key]
        assert restored.max_length == buffer.max_length
        for got, want in zip(restored.data, buffer.data):
            assert got.dtype == want.dtype and np.array_equal(got, want)
    assert back['param_schedulers'] == [{'milestones': Counter({8: 1, 11: 1})}]
    assert back['state_dict']._metadata == state_dict._metadata
    assert all(torch.equal(back['state_dict'][k], v) for k, v in state_dict.items())
    # A checkpoint written before (with the buffers pickled) passes unchanged.
    assert from_plain(checkpoint) is checkpoint


@pytest.mark.parametrize('scheme', ['local', 'http'])
def test_checkpoint_loading_logs_its_backend_by_name(scheme, tmp_path, monkeypatch):
    """mmengine names the backend after its loader function
    (``load_from_<backend>``): "Loads checkpoint by local backend"."""
    import torch.hub
    from mmengine.logging import MMLogger
    from mmengine.runner import CheckpointLoader
    path = tmp_path / 'fasternet_t0.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}}, path)
    source = str(path) if scheme == 'local' else 'https://example.org/weights/fasternet_t0.pth'
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.setattr(torch.hub, 'download_url_to_file',
                        lambda url, target, progress=True: torch.save(torch.load(path), target))
    logger = MMLogger.get_current_instance()
    messages = Messages()
    logger.addHandler(messages)
    try:
        CheckpointLoader.load_checkpoint(source, map_location='cpu')
    finally:
        logger.removeHandler(messages)
    assert messages.lines == [f'Loads checkpoint by {scheme} backend from path: {source}']
