"""Training curves from mmengine's scalar logs (tools/plot_log.py)."""
import json
import os
import os.path as osp
import runpy
import sys

import pytest

from fasternet_dense import ConfigError, MissingFileError
from fasternet_dense.logplot import default_keys, find_scalar_files, plot_scalars, read_scalars

from conftest import ROOT


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
