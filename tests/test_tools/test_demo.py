"""The main job end to end on a few iterations: metrics before and after,
and the picture of ground truth beside prediction."""
import json
import os.path as osp

import cv2
import pytest
from conftest import ROOT

from fasternet_dense.cli.demo import run_demo

SHORT = {
    'det': {'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
            'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
            'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False},
    'rtmdet': {'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
               'train_dataloader.dataset.indices': 16,
               'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
               'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False},
    'seg': {'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4,
            'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
            'val_dataloader.num_workers': 0, 'val_dataloader.persistent_workers': False},
}


@pytest.mark.slow
@pytest.mark.parametrize('task, columns, header_rows',
                         [('det', 2, 1), ('rtmdet', 2, 1), ('seg', 3, 2)])
def test_demo_draws_ground_truth_beside_prediction(task, columns, header_rows, tmp_path,
                                                   monkeypatch):
    monkeypatch.chdir(ROOT)  # the demo writes its toy data under data/, as scripts/demo.sh runs it
    result = run_demo(task, str(tmp_path / task), SHORT[task])
    with open(tmp_path / task / 'demo_result.json') as f:
        assert json.load(f) == result
    metric = 'mIoU' if task == 'seg' else 'coco/bbox_mAP'
    assert result['untrained'][metric] is not None  # after a few iterations there may be none
    image = cv2.imread(result['picture'])
    # six 128x128 validation images drawn at 2x, one row each, under a caption
    # (and for segmentation a legend) 28 px high
    assert image.shape == (6 * 256 + 28 * header_rows, columns * 256, 3)
    assert osp.isfile(result['picture'])


def _trained_weights(work_dir):
    from fasternet_dense import safe_torch_load
    return safe_torch_load(osp.join(work_dir, 'epoch_1.pth'), map_location='cpu')['state_dict']


@pytest.mark.slow
def test_the_demo_trains_the_same_weights_twice_with_one_seed(tmp_path, monkeypatch):
    import torch
    monkeypatch.chdir(ROOT)
    # Two iterations of batch 8, then validation: enough to involve the data
    # order, the augmentation, the initialisation and the samplers.
    options = dict(SHORT['det'], **{'train_dataloader.dataset.indices': 16,
                                    'val_dataloader.dataset.indices': 8})
    runs = {}
    for name, seed in (('first', 0), ('again', 0), ('other seed', 1)):
        run_demo('det', str(tmp_path / name), dict(options, **{'randomness.seed': seed}))
        runs[name] = _trained_weights(tmp_path / name)
    assert runs['first'].keys() == runs['again'].keys()
    assert all(torch.equal(runs['first'][k], runs['again'][k]) for k in runs['first'])
    assert not all(torch.equal(runs['first'][k], runs['other seed'][k]) for k in runs['first'])


@pytest.mark.slow
@pytest.mark.parametrize('task, config, metric, iterations', [
    ('seg', 'semfpn_fasternet_t0_toyade', 'mIoU', ['1/4', '2/4', '3/4', '4/4']),
    ('det', 'maskrcnn_fasternet_t0_toycoco', 'bbox_mAP', [f'{3 * k}/30' for k in range(1, 11)])])
def test_the_demo_says_a_few_lines_per_stage_and_logs_the_rest(task, config, metric, iterations,
                                                                tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    lines = []
    run_demo(task, str(tmp_path / task), SHORT[task], say=lines.append)
    console = capsys.readouterr()
    # No hook tables, log lines, library warnings or pycocotools tables on the
    # console: in the log.
    assert 'mmengine - INFO' not in console.out + console.err
    assert 'mmengine - WARNING' not in console.out + console.err
    assert 'Average Precision' not in console.out
    data = 'data/toy_ade' if task == 'seg' else 'data/toy_coco'
    assert lines[0] == f'{task}: toy data in {data}, config configs/{config}.py'
    log_file = lines[1].split()[-1]
    assert lines[1].startswith(f'{task}: full log in ') and osp.isfile(log_file)
    log = open(log_file).read()
    assert 'mmengine - INFO' in log and ('Average Precision' in log) == (task == 'det')
    assert 'mmengine - WARNING' in log  # e.g. StepSeedHook on persistent data workers
    if task == 'seg':  # mmseg warns of its own deprecated build_loss while the model is built
        assert 'UserWarning: ``build_loss`` would be deprecated' in log
    assert lines[2].startswith(f'{task}: untrained: {metric} ')
    assert lines[3] == f'{task}: training on CPU'
    progress = [line for line in lines if line.startswith('  iteration ')]
    assert [p.split()[1] for p in progress] == iterations
    assert lines[-1].startswith(f'{task}: trained in ') and f' {metric} ' in lines[-1]
    assert len(lines) == 5 + len(iterations)
