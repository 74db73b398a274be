"""Where a dataset config reads its files, resolved as mmengine's datasets
resolve them, and the check that they are there."""
import os
import re

import pytest
from mmengine.config import Config

from fasternet_dense import MissingFileError
from fasternet_dense.datasets.paths import (annotation_file, check_datasets, data_folder,
                                            dataset_paths)


# ------------------------------------------------------------- data paths
@pytest.mark.parametrize('data_root, prefix', [
    ('data/coco/', 'train2017/'), ('data/coco', ''), ('data/coco', '/abs/images'),
    ('data/coco', 's3://bucket/images/'), ('', 'images/'), (None, ''),
])
def test_data_paths_resolve_as_mmengine_datasets_do(data_root, prefix):
    from mmengine.dataset import BaseDataset
    ann_file = 'annotations/train.json'
    dataset = BaseDataset(data_root=data_root, ann_file=ann_file, lazy_init=True,
                          data_prefix=dict(img=prefix, seg_map_path=''))
    config = dict(data_root=data_root, ann_file=ann_file, data_prefix=dict(img=prefix))
    assert data_folder(config, 'img') == dataset.data_prefix['img']
    assert annotation_file(config) == dataset.ann_file
    assert data_folder(config, 'seg_map_path') is None
    assert data_folder(config, 'seg_map_path', default='') == dataset.data_prefix['seg_map_path']


def test_the_path_check_reads_the_data_root_behind_an_empty_prefix(tmp_path):
    ann_file = tmp_path / 'train.json'
    ann_file.write_text('{}')
    dataset = dict(type='CocoDataset', data_root=str(tmp_path / 'coco'), ann_file=str(ann_file),
                   data_prefix=dict(img=''))
    assert dataset_paths(dataset) == [('annotation file', str(ann_file)),
                                      ('image folder', str(tmp_path / 'coco') + '/')]
    cfg = Config(dict(train_dataloader=dict(dataset=dataset)))
    missing = re.escape(f'image folder {tmp_path}/coco/ not found')
    with pytest.raises(MissingFileError, match=missing):
        check_datasets(cfg, ('train_dataloader', ))
    os.mkdir(tmp_path / 'coco')
    check_datasets(cfg, ('train_dataloader', ))


def test_the_path_check_leaves_remote_data_to_the_dataset():
    dataset = dict(type='CocoDataset', data_root='s3://bucket/coco/',
                   ann_file='annotations/instances_train2017.json',
                   data_prefix=dict(img='train2017/'))
    assert dataset_paths(dataset) == [
        ('annotation file', 's3://bucket/coco/annotations/instances_train2017.json'),
        ('image folder', 's3://bucket/coco/train2017/')]
    check_datasets(Config(dict(train_dataloader=dict(dataset=dataset))), ('train_dataloader', ))
