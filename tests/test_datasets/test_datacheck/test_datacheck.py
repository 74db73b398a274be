"""Dataset content checks: each kind of bad input gives its one line, and
``data_check.skip_bad`` really leaves the bad samples out."""
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from fasternet_dense import ConfigError, DatasetError
from fasternet_dense.datasets.datacheck import check_coco, check_data, probe_image
from fasternet_dense.datasets.toydata import (TOY_ADE_CLASSES, TOY_COCO_CLASSES, make_toy_ade,
                                              make_toy_coco)

SIZE = 64


# ---------------------------------------------------------------- helpers
@pytest.fixture
def coco(tmp_path):
    return make_toy_coco(str(tmp_path / 'coco'), num_train=8, num_val=2, image_size=SIZE, seed=0)


@pytest.fixture
def ade(tmp_path):
    root = str(tmp_path / 'ade')
    make_toy_ade(root, num_train=8, num_val=2, image_size=SIZE, seed=0)
    return root


def coco_cfg(coco, work_dir, **data_check):
    dataset = dict(type='CocoDataset', data_root=coco['root'] + '/',
                   ann_file='annotations/instances_train2017.json',
                   data_prefix=dict(img='train2017/'),
                   metainfo=dict(classes=TOY_COCO_CLASSES))
    return Config(dict(
        default_scope='mmdet', work_dir=str(work_dir),
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dataset)),
        val_evaluator=dict(type='CocoMetric', ann_file=coco['train_ann']),
        data_check=data_check))


def ade_cfg(root, work_dir, reduce_zero_label=True, **data_check):
    dataset = dict(type='BaseSegDataset', data_root=root, img_suffix='.jpg',
                   seg_map_suffix='.png', reduce_zero_label=reduce_zero_label,
                   metainfo=dict(classes=TOY_ADE_CLASSES),
                   data_prefix=dict(img_path='images/training',
                                    seg_map_path='annotations/training'))
    return Config(dict(default_scope='mmseg', work_dir=str(work_dir),
                       train_dataloader=dict(dataset=dataset), data_check=data_check))


def error_of(cfg):
    with pytest.raises(DatasetError) as info:
        check_data(cfg, ('train_dataloader', ))
    return str(info.value)


def edit_ann(path, change):
    with open(path) as f:
        data = json.load(f)
    change(data)
    with open(path, 'w') as f:
        json.dump(data, f)


def image_path(coco, img_id):
    return osp.join(coco['train_img_dir'], f'{img_id:012d}.png')


def truncate(path, keep=0.5):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])


def line_with(message, kind):
    lines = [ln for ln in message.splitlines() if f': {kind}: ' in ln]
    assert len(lines) == 1, message
    return lines[0]


# ------------------------------------------------------------------ COCO
def test_good_toy_coco_passes(coco, tmp_path):
    cfg = coco_cfg(coco, tmp_path / 'work')
    check_data(cfg, ('train_dataloader', ))
    assert cfg.train_dataloader.dataset.dataset.ann_file == 'annotations/instances_train2017.json'


def test_missing_images_one_line_with_count(coco, tmp_path):
    for img_id in (2, 3, 7):
        os.remove(image_path(coco, img_id))
    message = error_of(coco_cfg(coco, tmp_path / 'work'))
    line = line_with(message, 'image file missing')
    assert line.startswith('train_dataloader: image file missing: ')
    assert image_path(coco, 2) in line and line.endswith('... and 2 more')
    listing = tmp_path / 'work' / 'data_check' / 'train_dataloader_instances_train2017_problems.txt'
    assert message.splitlines()[-2] == f'train_dataloader: all 3 problems are listed in {listing}'
    assert listing.read_text().splitlines() == [
        f'image file missing: {image_path(coco, i)}' for i in (2, 3, 7)]
    assert 'data_check.skip_bad=True' in message.splitlines()[-1]


@pytest.mark.parametrize('image_read', ['decode', 'header'])
def test_truncated_and_garbage_images_are_corrupt(coco, tmp_path, image_read):
    truncate(image_path(coco, 1))
    with open(image_path(coco, 5), 'wb') as f:
        f.write(b'not an image at all')
    message = error_of(coco_cfg(coco, tmp_path / 'work', image_read=image_read))
    line = line_with(message, 'image unreadable or corrupt')
    assert image_path(coco, 1) in line and line.endswith('... and 1 more')


def test_probe_reports_size_and_truncation(coco):
    assert probe_image(image_path(coco, 1), decode=True) == (None, (SIZE, SIZE))
    truncate(image_path(coco, 1), keep=0.9)
    for decode in (True, False):
        error, hw = probe_image(image_path(coco, 1), decode)
        assert error and hw is None


def test_image_size_differs_from_entry(coco, tmp_path):
    cv2.imwrite(image_path(coco, 4), np.zeros((SIZE, SIZE + 8, 3), np.uint8))
    line = line_with(error_of(coco_cfg(coco, tmp_path / 'work')),
                     'image size differs from its annotation entry')
    assert image_path(coco, 4) in line and f'file is {SIZE + 8}x{SIZE}' in line


def test_annotation_file_not_json(coco, tmp_path):
    with open(coco['train_ann'], 'w') as f:
        f.write('{"images": [')
    message = error_of(coco_cfg(coco, tmp_path / 'work', skip_bad=True))
    assert message.startswith(f'Annotation file {coco["train_ann"]} is not valid JSON')
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize('content, expected', [
    ('[1, 2]', 'holds a JSON list'),
    ('{"images": [], "annotations": []}', "has no 'categories' key"),
    ('{"images": {}, "annotations": [], "categories": []}', "'images' is a dict"),
])
def test_annotation_file_not_coco(coco, tmp_path, content, expected):
    with open(coco['train_ann'], 'w') as f:
        f.write(content)
    message = error_of(coco_cfg(coco, tmp_path / 'work'))
    assert coco['train_ann'] in message and expected in message


def test_unknown_image_and_category_ids(coco, tmp_path):
    def change(data):
        data['annotations'][0]['image_id'] = 999
        data['annotations'][1]['category_id'] = 7
        data['annotations'][2]['category_id'] = 0
    edit_ann(coco['train_ann'], change)
    message = error_of(coco_cfg(coco, tmp_path / 'work'))
    line = line_with(message, 'annotation for an unknown image id')
    assert coco['train_ann'] in line and 'annotation id 1' in line and 'image_id 999' in line
    line = line_with(message, 'annotation with an unknown category id')
    assert 'annotation id 2' in line and 'category_id 7' in line
    assert line.endswith('... and 1 more')


def test_box_outside_the_image(coco, tmp_path):
    def change(data):
        data['annotations'][0]['bbox'] = [SIZE - 10.0, 5.0, 20.0, 8.0]
        data['annotations'][3]['bbox'] = [-6.0, 5.0, 20.0, 8.0]
        # Within the 1 px rounding tolerance: fine.
        data['annotations'][4]['bbox'] = [SIZE - 20.0, 0.0, 20.5, 8.0]
    edit_ann(coco['train_ann'], change)
    line = line_with(error_of(coco_cfg(coco, tmp_path / 'work')), 'box outside the image')
    assert 'annotation id 1 ' in line and f'[{SIZE - 10.0}, 5.0, 20.0, 8.0]' in line
    assert f'{SIZE}x{SIZE} image' in line and line.endswith('... and 1 more')


def test_malformed_box(coco, tmp_path):
    edit_ann(coco['train_ann'], lambda d: d['annotations'][2].update(bbox=[1.0, 2.0, 0.0, 5.0]))
    line = line_with(error_of(coco_cfg(coco, tmp_path / 'work')), 'malformed box')
    assert 'annotation id 3 ' in line


def test_degenerate_polygons(coco, tmp_path):
    def change(data):
        data['annotations'][0]['segmentation'] = [[10.0, 10.0, 20.0, 10.0]]
        data['annotations'][1]['segmentation'] = [[10.0, 10.0, 20.0, 20.0, 30.0, 30.0]]
    edit_ann(coco['train_ann'], change)
    line = line_with(error_of(coco_cfg(coco, tmp_path / 'work')), 'degenerate polygon')
    assert 'annotation id 1 ' in line and '2 points, needs at least 3' in line
    assert line.endswith('... and 1 more')
    result = check_coco(coco['train_ann'], coco['train_img_dir'])
    assert result.bad_annotations == {0, 1}


def test_duplicate_ids(coco, tmp_path):
    def change(data):
        data['annotations'][5]['id'] = data['annotations'][4]['id']
        data['images'].append(dict(data['images'][0]))
    edit_ann(coco['train_ann'], change)
    message = error_of(coco_cfg(coco, tmp_path / 'work'))
    assert 'duplicate annotation id' in message and 'duplicate image id' in message


def test_config_class_not_a_category_is_not_skippable(coco, tmp_path):
    cfg = coco_cfg(coco, tmp_path / 'work', skip_bad=True)
    cfg.train_dataloader.dataset.dataset.metainfo = dict(classes=('circle', 'hexagon'))
    message = error_of(cfg)
    assert "classes ['hexagon'] of the config are not categories" in message


def test_skip_bad_writes_filtered_coco_and_redirects(coco, tmp_path):
    from mmengine.logging import MMLogger
    log_file = tmp_path / 'log.txt'
    logger = MMLogger.get_instance('skip_bad_coco_test', log_file=str(log_file))
    os.remove(image_path(coco, 2))

    def change(data):
        data['annotations'][0]['bbox'] = [SIZE - 10.0, 5.0, 20.0, 8.0]
        data['annotations'][1]['segmentation'] = [[1.0, 1.0, 2.0, 2.0]]
    edit_ann(coco['train_ann'], change)
    with open(coco['train_ann']) as f:
        original = json.load(f)
    cfg = coco_cfg(coco, tmp_path / 'work', skip_bad=True)
    check_data(cfg, ('train_dataloader', ))

    new = cfg.train_dataloader.dataset.dataset.ann_file
    assert new == str(tmp_path / 'work' / 'data_check' /
                      'train_dataloader_instances_train2017.json')
    assert cfg.val_evaluator.ann_file == new
    with open(new) as f:
        filtered = json.load(f)
    on_image_2 = [a['id'] for a in original['annotations'] if a['image_id'] == 2]
    assert [im['id'] for im in filtered['images']] == [1, 3, 4, 5, 6, 7, 8]
    kept = {a['id'] for a in filtered['annotations']}
    assert kept == {a['id'] for a in original['annotations']} - {1, 2} - set(on_image_2)
    assert filtered['categories'] == original['categories']
    for handler in logger.handlers:
        handler.flush()
    warnings = [ln for ln in log_file.read_text().splitlines() if 'WARNING' in ln]
    assert len(warnings) == 4
    assert warnings[0].endswith(f'train_dataloader: image file missing: {image_path(coco, 2)}')
    assert 'box outside the image' in warnings[1] and 'degenerate polygon' in warnings[2]
    dropped = 2 + len(on_image_2)
    assert warnings[3].endswith(f'train_dataloader: data_check.skip_bad is set, so 1 images and '
                                f'{dropped} annotations are left out; the dataset reads {new} '
                                f'instead of {coco["train_ann"]}.')


def test_skipped_coco_loads_in_mmdet(coco, tmp_path):
    pytest.importorskip('mmdet.datasets')
    from mmdet.datasets import CocoDataset
    os.remove(image_path(coco, 6))
    cfg = coco_cfg(coco, tmp_path / 'work', skip_bad=True)
    check_data(cfg, ('train_dataloader', ))
    inner = cfg.train_dataloader.dataset.dataset
    dataset = CocoDataset(data_root=inner.data_root, ann_file=inner.ann_file,
                          data_prefix=inner.data_prefix, metainfo=inner.metainfo,
                          pipeline=[], filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == 7
    assert all(not info['img_path'].endswith('000000000006.png') for info in dataset)


SHARED_COCO_CONFIG = """
default_scope = 'mmdet'
train_dataloader = dict(dataset=dict(
    type='CocoDataset', data_root='{root}/', ann_file='annotations/instances_train2017.json',
    data_prefix=dict(img='train2017/'), metainfo=dict(classes={classes!r})))
val_dataloader = dict(dataset=train_dataloader['dataset'])
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file='{root}/annotations/instances_train2017.json')
test_evaluator = val_evaluator
data_check = dict(skip_bad=True)
"""


def test_skip_bad_redirects_every_loader_sharing_the_dataset(coco, tmp_path):
    os.remove(image_path(coco, 2))
    config = tmp_path / 'shared.py'
    config.write_text(SHARED_COCO_CONFIG.format(root=coco['root'], classes=TOY_COCO_CLASSES))
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'work')
    check_data(cfg, ('train_dataloader', 'val_dataloader'))
    new = str(tmp_path / 'work' / 'data_check' / 'train_dataloader_instances_train2017.json')
    assert cfg.train_dataloader.dataset.ann_file == new
    assert cfg.val_dataloader.dataset.ann_file == new
    assert cfg.test_dataloader.dataset.ann_file == new
    assert cfg.val_evaluator.ann_file == new and cfg.test_evaluator.ann_file == new
    # The filtered file and what the check found, once for the shared files.
    assert sorted(os.listdir(tmp_path / 'work' / 'data_check')) == [
        osp.basename(new), 'train_dataloader_instances_train2017_cache.json']


def test_skip_bad_redirects_a_shared_segmentation_dataset(ade, tmp_path):
    os.remove(ade_files(ade, 'toy_train_000003')[1])
    train = ade_cfg(ade, tmp_path / 'work', skip_bad=True).to_dict()
    cfg = Config(dict(train, val_dataloader=dict(dataset=train['train_dataloader']['dataset'])))
    check_data(cfg, ('train_dataloader', 'val_dataloader'))
    listing = str(tmp_path / 'work' / 'data_check' / 'train_dataloader_training.txt')
    assert cfg.train_dataloader.dataset.ann_file == listing
    assert cfg.val_dataloader.dataset.ann_file == listing


def test_empty_image_prefix_means_data_root(coco, tmp_path):
    cfg = coco_cfg(coco, tmp_path / 'work')
    dataset = cfg.train_dataloader.dataset.dataset
    dataset.data_root = coco['train_img_dir']
    dataset.ann_file = coco['train_ann']
    dataset.data_prefix = dict(img='')
    check_data(cfg, ('train_dataloader', ))
    os.remove(image_path(coco, 3))
    line = line_with(error_of(cfg), 'image file missing')
    assert line == f'train_dataloader: image file missing: {image_path(coco, 3)}'


def test_disabled_check_reads_and_writes_nothing(coco, tmp_path, monkeypatch):
    """With ``data_check.enabled=False`` a missing image is not reported, no
    annotation file or image is opened and nothing is written to the work
    dir."""
    from fasternet_dense.datasets.datacheck import coco as coco_module
    os.remove(image_path(coco, 2))
    opened = []
    monkeypatch.setattr(coco_module, 'load_coco_json', lambda *a: opened.append(a))
    monkeypatch.setattr(coco_module, 'probe_image', lambda *a: opened.append(a))
    cfg = coco_cfg(coco, tmp_path / 'work', enabled=False)
    before = cfg.to_dict()
    check_data(cfg, ('train_dataloader', ))
    assert opened == []
    assert not (tmp_path / 'work').exists()
    assert cfg.to_dict() == before


def test_unknown_option_is_a_config_error(coco, tmp_path):
    with pytest.raises(ConfigError, match=r"data_check has unknown keys \['skip'\]"):
        check_data(coco_cfg(coco, tmp_path / 'work', skip=True), ('train_dataloader', ))


# ----------------------------------------------------------- segmentation
def ade_files(root, stem):
    return (osp.join(root, 'images', 'training', stem + '.jpg'),
            osp.join(root, 'annotations', 'training', stem + '.png'))


def write_label(path, values, shape=(SIZE, SIZE)):
    label = np.full(shape, values[0], np.uint8)
    label[:len(values), 0] = values
    assert cv2.imwrite(path, label)


def test_good_toy_ade_passes(ade, tmp_path):
    check_data(ade_cfg(ade, tmp_path / 'work'), ('train_dataloader', ))


def test_missing_label_map(ade, tmp_path):
    for i in (1, 4):
        os.remove(ade_files(ade, f'toy_train_{i:06d}')[1])
    line = line_with(error_of(ade_cfg(ade, tmp_path / 'work')), 'label map missing')
    img, seg = ade_files(ade, 'toy_train_000001')
    assert f'{seg} (for image {img})' in line and line.endswith('... and 1 more')


def test_unreadable_image_and_label(ade, tmp_path):
    img, _ = ade_files(ade, 'toy_train_000002')
    truncate(img, keep=0.3)
    _, seg = ade_files(ade, 'toy_train_000003')
    with open(seg, 'wb') as f:
        f.write(b'\x89PNG garbage')
    message = error_of(ade_cfg(ade, tmp_path / 'work', image_read='header'))
    assert img in line_with(message, 'image unreadable or corrupt')
    assert seg in line_with(message, 'label map unreadable or corrupt')


def test_label_values_outside_class_range(ade, tmp_path):
    _, seg = ade_files(ade, 'toy_train_000005')
    write_label(seg, [0, 1, 5, 255, 6, 9])  # 6 and 9 > 5 classes
    _, ok = ade_files(ade, 'toy_train_000006')
    write_label(ok, [0, 5, 255])
    line = line_with(error_of(ade_cfg(ade, tmp_path / 'work')),
                     'label values outside the class range')
    assert seg in line and 'values [6, 9]' in line
    assert 'valid: 1..5 classes, 0 and 255 ignore (reduce_zero_label)' in line
    assert 'more' not in line


def test_label_range_without_reduce_zero_label(ade, tmp_path):
    for i in range(8):  # the toy labels use 0..5; make them 0..4 and 255
        _, seg = ade_files(ade, f'toy_train_{i:06d}')
        write_label(seg, [0, 4, 255] if i != 7 else [0, 5])
    line = line_with(error_of(ade_cfg(ade, tmp_path / 'work', reduce_zero_label=False)),
                     'label values outside the class range')
    assert ade_files(ade, 'toy_train_000007')[1] in line and 'values [5]' in line
    assert 'valid: 0..4 classes, 255 ignore' in line


def test_image_and_label_sizes_differ(ade, tmp_path):
    _, seg = ade_files(ade, 'toy_train_000000')
    write_label(seg, [1], shape=(SIZE // 2, SIZE))
    line = line_with(error_of(ade_cfg(ade, tmp_path / 'work')), 'image and label map sizes differ')
    assert seg in line and f'label {SIZE}x{SIZE // 2}, image {SIZE}x{SIZE}' in line


def test_colour_label_map_is_not_single_channel(ade, tmp_path):
    _, seg = ade_files(ade, 'toy_train_000000')
    cv2.imwrite(seg, np.zeros((SIZE, SIZE, 3), np.uint8))
    line = line_with(error_of(ade_cfg(ade, tmp_path / 'work')), 'label map is not single-channel')
    assert seg in line


def test_skip_bad_writes_sample_list_that_mmseg_reads(ade, tmp_path):
    os.remove(ade_files(ade, 'toy_train_000001')[1])
    write_label(ade_files(ade, 'toy_train_000004')[1], [1, 200])
    cfg = ade_cfg(ade, tmp_path / 'work', skip_bad=True)
    check_data(cfg, ('train_dataloader', ))
    listing = cfg.train_dataloader.dataset.ann_file
    assert listing == str(tmp_path / 'work' / 'data_check' / 'train_dataloader_training.txt')
    with open(listing) as f:
        names = f.read().split()
    assert names == [f'toy_train_{i:06d}' for i in (0, 2, 3, 5, 6, 7)]
    pytest.importorskip('mmseg.datasets')
    from mmseg.datasets import BaseSegDataset
    dataset_cfg = {k: v for k, v in cfg.train_dataloader.dataset.items() if k != 'type'}
    dataset = BaseSegDataset(pipeline=[], **dataset_cfg)
    assert [osp.basename(d['img_path']) for d in dataset] == [n + '.jpg' for n in names]


def test_empty_segmentation_prefixes_mean_data_root(ade, tmp_path):
    images = osp.join(ade, 'images', 'training')
    cfg = ade_cfg(ade, tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = images
    cfg.train_dataloader.dataset.data_prefix = dict(
        img_path='', seg_map_path=osp.join(ade, 'annotations', 'training'))
    check_data(cfg, ('train_dataloader', ))
    # Label maps beside the images: both prefixes empty.
    for i in range(8):
        _, seg = ade_files(ade, f'toy_train_{i:06d}')
        if i != 6:
            os.rename(seg, osp.join(images, osp.basename(seg)))
    cfg.train_dataloader.dataset.data_prefix = dict(img_path='', seg_map_path='')
    line = line_with(error_of(cfg), 'label map missing')
    assert line.startswith(f'train_dataloader: label map missing: {images}/toy_train_000006.png')
    assert 'more' not in line


def test_no_images_found(ade, tmp_path):
    cfg = ade_cfg(ade, tmp_path / 'work', skip_bad=True)
    cfg.train_dataloader.dataset.img_suffix = '.tif'
    assert re.search(r'no samples found in .*images/training', error_of(cfg))
