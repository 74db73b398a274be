"""The skipping image loader: loads as mmcv's does, and gives None for an
image that is missing, truncated or undecodable, recording why."""
import os
import os.path as osp

import numpy as np
import pytest
from conftest import damage, write_image
from mmcv.transforms import LoadImageFromFile

from fasternet_dense.datasets.transforms.loading import LoadImageFromFileOrSkip, record_path


@pytest.fixture
def record():
    path = record_path()
    with open(path, 'w'):
        pass
    yield path
    if osp.exists(path):
        os.remove(path)


def test_good_images_load_as_with_mmcvs_loader(tmp_path):
    for name in ('a.jpg', 'b.png'):
        path = write_image(tmp_path / name)
        ours = LoadImageFromFileOrSkip().transform(dict(img_path=path))
        theirs = LoadImageFromFile().transform(dict(img_path=path))
        assert np.array_equal(ours['img'], theirs['img'])
        assert ours['img_shape'] == theirs['img_shape'] == (24, 32)


@pytest.mark.parametrize('name, how, reason', [
    ('t.jpg', 'truncate', 'JPEG file is truncated'),
    ('t.png', 'truncate', 'PNG file is truncated'),
    ('g.jpg', 'garbage', 'AssertionError: failed to load image'),
    ('gone.jpg', 'remove', 'FileNotFoundError'),
])
def test_unreadable_images_give_none_and_are_recorded(tmp_path, record, name, how, reason):
    path = write_image(tmp_path / name)
    if how == 'remove':
        os.remove(path)
    else:
        damage(path, how)
    assert LoadImageFromFileOrSkip().transform(dict(img_path=path)) is None
    (line, ) = open(record).read().splitlines()
    file, why = line.split('\t')
    assert file == path and why.startswith(reason)
