"""Training curves from mmengine's scalar logs (tools/plot_log.py)."""
import json
import os
import os.path as osp
import runpy
import sys

import pytest
from conftest import ROOT

from fasternet_dense import ConfigError, MissingFileError
from fasternet_dense.cli.plot_log import (default_keys, find_scalar_files, plot_scalars,
                                          read_scalars)


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
    # As `python tools/plot_log.py` does: the script's folder leads sys.path.
    monkeypatch.syspath_prepend(osp.join(ROOT, 'tools'))
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


def test_plot_log_reads_mmengine_text_log_like_the_scalars_beside_it(tmp_path):
    """Given the ``.log`` file of a run, the curves are those of the
    ``vis_data/scalars.json`` beside it (which is then read); alone, the text
    log gives the same steps and keys, to the 4 decimals it prints."""
    run = tmp_path / 'work' / '20261205_120000'
    (run / 'vis_data').mkdir(parents=True)
    scalars, text = [], []
    for it in range(1, 15):
        loss = 2.0 / it + 0.123456
        scalars.append(dict(lr=1e-3 * it, loss=loss, **{'decode.loss_ce': loss},
                            step=it, iter=it))
        text.append(f'12/05 12:00:{it:02d} - mmengine - INFO - Iter(train) [{it:4d}/1800]  '
                    f'lr: {1e-3 * it:.4e}  eta: 0:03:51  time: 0.1296  data_time: 0.0330  '
                    f'loss: {loss:.4f}  decode.loss_ce: {loss:.4f}')
        if it % 7 == 0:
            scalars.append({'mIoU': 10.0 * it, 'aAcc': 50.0, 'step': it})
            text.append('12/05 12:00:00 - mmengine - INFO - Iter(val) [3/5]    eta: 0:00:01')
            text.append(f'12/05 12:00:00 - mmengine - INFO - Iter(val) [5/5]    aAcc: 50.0000  '
                        f'mIoU: {10.0 * it:.4f}  data_time: 0.0176  time: 0.1129')
    (run / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in scalars) + '\n')
    log = run / '20261205_120000.log'
    log.write_text('\n'.join(text) + '\n')
    assert find_scalar_files(str(log)) == [str(run / 'vis_data' / 'scalars.json')]

    alone = tmp_path / 'copied.log'
    alone.write_text(log.read_text())
    assert find_scalar_files(str(alone)) == [str(alone)]
    train, val, by_epoch = read_scalars([str(alone)])
    ref_train, ref_val, _ = read_scalars([str(run / 'vis_data' / 'scalars.json')])
    assert sorted(train) == sorted(ref_train) == ['decode.loss_ce', 'loss', 'lr']
    for key in ref_train:
        assert train[key].keys() == ref_train[key].keys()
        assert all(abs(train[key][s] - ref_train[key][s]) <= 5e-5 * max(1, abs(ref_train[key][s]))
                   for s in ref_train[key])
    assert val == {'mIoU': {7: 70.0, 14: 140.0}, 'aAcc': {7: 50.0, 14: 50.0}} == ref_val
    assert not by_epoch
    out = plot_scalars(str(alone), str(tmp_path / 'curves.png'))
    assert osp.getsize(out) > 10000


def test_text_log_of_an_epoch_based_run_counts_iterations_over_epochs(tmp_path):
    log = tmp_path / 'run.log'
    log.write_text(
        '12/05 12:00:00 - mmengine - INFO - Epoch(train)  [1][ 50/100]  base_lr: 2.0e-02 '
        'lr: 2.0e-02  eta: 1:00:00  time: 0.5  data_time: 0.1  loss: 1.5000  loss_cls: 0.5000\n'
        '12/05 12:00:00 - mmengine - INFO - Epoch(train)  [2][ 50/100]  base_lr: 2.0e-02 '
        'lr: 2.0e-02  eta: 1:00:00  time: 0.5  data_time: 0.1  loss: 1.2500  loss_cls: 0.2500\n'
        '12/05 12:00:00 - mmengine - INFO - Epoch(val) [2][5/5]    coco/bbox_mAP: 0.1230  '
        'coco/bbox_mAP_50: 0.2500  data_time: 0.01  time: 0.2\n')
    train, val, by_epoch = read_scalars([str(log)])
    assert train['loss'] == {50: 1.5, 150: 1.25}
    assert val['coco/bbox_mAP'] == {2: 0.123}
    assert by_epoch
