"""The data checks at scale: the parallel pass finds exactly what the full
per-annotation check finds, the cache re-reads only what changed, and in a
distributed launch rank 0 alone checks."""
import json
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch.multiprocessing as torch_mp
from mmengine.config import Config
from test_datacheck import ade_cfg, coco_cfg, truncate

from fasternet_dense import DatasetError
from fasternet_dense.datasets.datacheck import CheckCache, check_coco, check_seg_layout
from fasternet_dense.datasets.datacheck import coco as coco_check
from fasternet_dense.datasets.datacheck.coco import (_annotation_problem, _duplicates,
                                                     check_annotation_file, load_coco_json,
                                                     probe_images)
from fasternet_dense.datasets.toydata import make_toy_ade, make_toy_coco
from fasternet_dense.datasets.toydata.fullsize import make_fullsize_ade, make_fullsize_coco


@pytest.fixture(scope='module')
def big_coco(tmp_path_factory):
    """600 images and 4,000 annotations with one of each kind of problem."""
    root = str(tmp_path_factory.mktemp('big_coco'))
    made = make_fullsize_coco(root, num_images=600, num_annotations=4000, num_classes=5)
    with open(made['ann_file']) as f:
        data = json.load(f)
    anns = data['annotations']
    # Chunks of 300 (see the tests): 0 holds what sends a whole chunk to the
    # full check, the others what the vectorised pass must find itself.
    anns[17]['bbox'][1] = '3'                                     # not a number
    anns[40]['segmentation'] = [[1.0, 2.0, 3.0, 4.0]]             # 2 points
    anns[41]['segmentation'] = [[1.0, 2.0, 3.0, 4.0, 5.0]]        # odd
    anns[100]['segmentation'][0][3] = True                        # not a number
    anns[305]['bbox'][0] = 10000.0                                # outside the image
    anns[360]['segmentation'] = [[5.0, 5.0] * 4]                  # zero area
    anns[395]['bbox'][2] = 0                                      # no width
    anns[620]['segmentation'] = [[0.5, 0.5, 0.5, 0.50001, 0.50001, 0.5]]  # tiny area
    anns[670]['segmentation'] = dict(counts='abc', size=[1, 1])   # RLE of another size
    image = data['images'][anns[671]['image_id'] - 1]
    anns[671]['segmentation'] = dict(counts='abc', size=[image['height'], image['width']])
    anns[680]['id'] = anns[10]['id']                              # repeated id
    anns[690]['category_id'] = 99                                 # unknown category
    anns[691]['image_id'] = 10 ** 9                               # unknown image
    anns[721] = 'not an annotation'
    anns[3999]['bbox'][3] = float('nan')                          # written as NaN
    data['images'][7]['width'] += 1                               # size differs
    data['images'][500] = dict(id=501)                            # malformed entry
    with open(made['ann_file'], 'w') as f:
        json.dump(data, f)
    truncate(osp.join(made['img_dir'], data['images'][20]['file_name']))
    os.remove(osp.join(made['img_dir'], data['images'][21]['file_name']))
    made['changed'] = {17, 40, 41, 100, 305, 360, 395, 620, 670, 680, 690, 691, 721, 3999} | {
        i for i, a in enumerate(anns) if isinstance(a, dict) and a['image_id'] == 501}
    return made


def full_check(data, ann_file):
    """The per-annotation check of every annotation, in order."""
    images = {}
    for i, im in enumerate(data['images']):
        if isinstance(im, dict) and 'height' in im:
            images.setdefault(im['id'], (i, im))
    cat_ids = {c['id'] for c in data['categories']}
    repeated = _duplicates(data['annotations'])
    found = [_annotation_problem(i, a, images, cat_ids, i in repeated, ann_file)
             for i, a in enumerate(data['annotations'])]
    return [list(p) for p in found if p], [i for i, p in enumerate(found) if p]


@pytest.mark.parametrize('workers', [1, 2])
def test_parallel_pass_finds_what_the_full_check_finds(big_coco, monkeypatch, workers):
    monkeypatch.setattr(coco_check, 'ANNOTATION_CHUNK', 300)  # 14 chunks
    data = load_coco_json(big_coco['ann_file'])
    summary = check_annotation_file(data, big_coco['ann_file'], None, 'train', workers)
    problems, bad = full_check(data, big_coco['ann_file'])
    assert summary['annotation_problems'] == problems
    assert summary['bad_annotations'] == bad
    kinds = {kind for kind, _, _ in problems}
    assert kinds == {'box outside the image', 'malformed box', 'degenerate polygon',
                     'malformed segmentation', 'duplicate annotation id',
                     'annotation with an unknown category id',
                     'annotation for an unknown image id', 'malformed annotation'}
    # The changed ones and those of the malformed image entry; the RLE of
    # the right size is fine.
    assert bad == sorted(big_coco['changed']) and 671 not in bad


def test_parallel_image_reads_equal_serial_ones(big_coco):
    names = sorted(os.listdir(big_coco['img_dir']))[:400]
    paths = [osp.join(big_coco['img_dir'], n) for n in names] + ['/nowhere.jpg']
    serial, _, read = probe_images(paths, True, 1)
    parallel, remember, _ = probe_images(paths, True, 2)
    assert serial == parallel and read == len(paths) - 1
    assert serial[-1] == ('missing', None) and '/nowhere.jpg' not in remember
    assert 'truncated' in str([error for error, _ in serial if error])


def test_whole_check_alike_in_a_child_process_and_here(big_coco, tmp_path, monkeypatch):
    here = check_coco(big_coco['ann_file'], big_coco['img_dir'], workers=1)
    monkeypatch.setattr(coco_check, 'FORK_ABOVE', 0)  # parse in a child while reading images
    forked = check_coco(big_coco['ann_file'], big_coco['img_dir'], workers=2)
    assert forked.problems.lines() == here.problems.lines()
    assert forked.bad_images == here.bad_images and len(here.bad_images) == 4
    assert forked.bad_annotations == here.bad_annotations
    # 600 entries but a malformed one; one file missing.
    assert forked.checked_images == here.checked_images == 598


# ------------------------------------------------------------------ cache
def test_cache_reads_only_what_changed(big_coco, tmp_path):
    work = tmp_path / 'cache.json'
    cache = CheckCache(str(work), dict(a=1))
    first = check_coco(big_coco['ann_file'], big_coco['img_dir'], workers=2, cache=cache)
    assert not work.exists()  # written when saved
    cache.save()
    again_cache = CheckCache(str(work), dict(a=1))
    assert again_cache.loaded
    again = check_coco(big_coco['ann_file'], big_coco['img_dir'], cache=again_cache)
    assert again.from_cache and again.checked_images == 0 and not again.changed
    assert again.problems.lines() == first.problems.lines()
    assert again.bad_images == first.bad_images
    assert again.bad_annotations == first.bad_annotations
    # One image damaged since: read again alone, and found.
    data = load_coco_json(big_coco['ann_file'])
    damaged = osp.join(big_coco['img_dir'], data['images'][300]['file_name'])
    original = open(damaged, 'rb').read()
    try:
        truncate(damaged)
        changed = check_coco(big_coco['ann_file'], big_coco['img_dir'], cache=again_cache)
        assert changed.checked_images == 1 and changed.from_cache and changed.changed
        assert 300 in changed.bad_images and 300 not in first.bad_images
    finally:
        with open(damaged, 'wb') as f:
            f.write(original)
    # Another key (other classes, options, paths) starts afresh.
    assert not CheckCache(str(work), dict(a=2)).loaded


def test_changed_annotation_file_is_checked_again(tmp_path):
    coco = make_toy_coco(str(tmp_path / 'coco'), num_train=4, num_val=1, image_size=64)
    cache = CheckCache(str(tmp_path / 'c.json'), {})
    check_coco(coco['train_ann'], coco['train_img_dir'], cache=cache)
    with open(coco['train_ann']) as f:
        data = json.load(f)
    data['annotations'][0]['bbox'] = [0, 0, 0, 0]
    with open(coco['train_ann'], 'w') as f:
        json.dump(data, f)
    again = check_coco(coco['train_ann'], coco['train_img_dir'], cache=cache)
    assert not again.from_cache and again.checked_images == 0
    assert again.problems.kinds == ['malformed box']


def test_unreadable_cache_file_is_ignored(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text('{"version": 1, "key": {}, "sect')
    assert not CheckCache(str(path), {}).loaded
    path.write_text('[1, 2]')
    assert not CheckCache(str(path), {}).loaded


def test_segmentation_cache_reads_only_what_changed(tmp_path):
    made = make_fullsize_ade(str(tmp_path / 'ade'), num_samples=300)
    path = str(tmp_path / 'c.json')
    kwargs = dict(num_classes=150, reduce_zero_label=True, workers=2)
    cache = CheckCache(path, {})
    first = check_seg_layout(made['img_dir'], made['seg_dir'], cache=cache, **kwargs)
    assert first.checked_samples == 300 and not first.problems
    cache.save()
    label = osp.join(made['seg_dir'], 'ADE_train_00000007.png')
    from PIL import Image
    values = np.asarray(Image.open(label)).copy()
    values[0, 0] = 200
    Image.fromarray(values).save(label)
    serial = check_seg_layout(made['img_dir'], made['seg_dir'], **dict(kwargs, workers=1))
    again = check_seg_layout(made['img_dir'], made['seg_dir'], cache=CheckCache(path, {}),
                             **kwargs)
    assert again.checked_samples == 1
    assert again.problems.lines() == serial.problems.lines()
    assert again.problems.kinds == ['label values outside the class range']
    assert again.bad == {'ADE_train_00000007'}


def test_check_data_keeps_its_cache_in_the_work_dir(tmp_path, monkeypatch):
    root = str(tmp_path / 'ade')
    make_toy_ade(root, num_train=8, num_val=2, image_size=64, seed=0)
    from fasternet_dense.datasets.datacheck import check as check_module
    logged = []
    monkeypatch.setattr(check_module, 'print_log', lambda msg, **kw: logged.append(msg))
    for _ in range(2):
        check_module.check_data(ade_cfg(root, tmp_path / 'work'), ('train_dataloader', ))
    assert (tmp_path / 'work' / 'data_check' / 'train_dataloader_training_cache.json').is_file()
    assert '8 samples, 8 read' in logged[0] and '8 samples, 0 read' in logged[1]
    check_module.check_data(ade_cfg(root, tmp_path / 'work2', cache=False),
                            ('train_dataloader', ))
    assert not (tmp_path / 'work2' / 'data_check').exists()


# ------------------------------------------------------------ distributed
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, cfg_dict, out_dir):
    """One rank: check_data_once, recording whether this rank ran the check."""
    import torch.distributed as dist

    from fasternet_dense.datasets.datacheck import check as check_module
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    ran = []
    real = check_module.check_data
    check_module.check_data = lambda cfg, loaders: (ran.append(rank), real(cfg, loaders))
    cfg = Config(cfg_dict)
    cfg.launcher = 'pytorch'
    try:
        check_module.check_data_once(cfg, ('train_dataloader', ))
        outcome = dict(ann_file=cfg.train_dataloader.dataset.dataset.get('ann_file'))
    except DatasetError as err:
        outcome = dict(error=str(err))
    outcome['ran'] = ran
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(outcome, f)
    dist.destroy_process_group()


def run_ranks(cfg, tmp_path, world=2):
    out_dir = tmp_path / 'ranks'
    out_dir.mkdir()
    torch_mp.spawn(_rank_main, args=(world, _free_port(), cfg.to_dict(), str(out_dir)),
                   nprocs=world)
    return [json.loads((out_dir / f'rank{r}.json').read_text()) for r in range(world)]


def test_distributed_launch_checks_on_rank_0_and_shares_the_outcome(tmp_path):
    coco = make_toy_coco(str(tmp_path / 'coco'), num_train=6, num_val=1, image_size=64)
    os.remove(osp.join(coco['train_img_dir'], f'{2:012d}.png'))
    filtered = run_ranks(coco_cfg(coco, tmp_path / 'work', skip_bad=True), tmp_path)
    assert [r['ran'] for r in filtered] == [[0], []]
    new = str(tmp_path / 'work' / 'data_check' / 'train_dataloader_instances_train2017.json')
    assert [r['ann_file'] for r in filtered] == [new, new]
    (tmp_path / 'ranks').rename(tmp_path / 'ranks_filtered')
    stopped = run_ranks(coco_cfg(coco, tmp_path / 'work'), tmp_path)
    assert [r['ran'] for r in stopped] == [[0], []]
    assert 'image file missing' in stopped[0]['error']
    assert stopped[1]['error'].startswith('rank 1 stops: rank 0 failed its checks before training')


def test_skip_bad_relaunch_keeps_the_filtered_file_without_parsing_again(tmp_path,
                                                                         monkeypatch):
    from fasternet_dense.datasets.datacheck import check_data
    coco = make_toy_coco(str(tmp_path / 'coco'), num_train=6, num_val=1, image_size=64)
    os.remove(osp.join(coco['train_img_dir'], f'{2:012d}.png'))
    check_data(coco_cfg(coco, tmp_path / 'work', skip_bad=True), ('train_dataloader', ))
    new = tmp_path / 'work' / 'data_check' / 'train_dataloader_instances_train2017.json'
    first = new.stat().st_mtime_ns
    kept = json.loads(new.read_text())

    def parse(path):
        raise AssertionError(f'{path} parsed again')
    monkeypatch.setattr(coco_check, 'load_coco_json', parse)
    cfg = coco_cfg(coco, tmp_path / 'work', skip_bad=True)
    check_data(cfg, ('train_dataloader', ))
    assert cfg.train_dataloader.dataset.dataset.ann_file == str(new)
    assert new.stat().st_mtime_ns == first
    monkeypatch.undo()
    new.unlink()  # gone: written again, the same
    check_data(coco_cfg(coco, tmp_path / 'work', skip_bad=True), ('train_dataloader', ))
    assert json.loads(new.read_text()) == kept and len(kept['images']) == 5


def test_an_error_in_the_child_process_is_raised_here(tmp_path, monkeypatch):
    coco = make_toy_coco(str(tmp_path / 'coco'), num_train=2, num_val=1, image_size=64)
    with open(coco['train_ann'], 'w') as f:
        f.write('{"images": [')
    monkeypatch.setattr(coco_check, 'FORK_ABOVE', 0)
    with pytest.raises(DatasetError, match='is not valid JSON'):
        check_coco(coco['train_ann'], coco['train_img_dir'], workers=2)
