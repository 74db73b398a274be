"""Tests of the toy COCO instance-segmentation generator (small sets, 96 px)."""
import glob
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from fasternet_dense.datasets.toydata.coco import TOY_COCO_CLASSES, _render_sample, make_toy_coco

SIZE = 96
ARGS = dict(num_train=12, num_val=4, image_size=SIZE, seed=0)
SPLITS = (('train_ann', 'train_img_dir', 12), ('val_ann', 'val_img_dir', 4))


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_coco(str(tmp_path_factory.mktemp('toy_coco')), **ARGS)


def _all_files(root):
    return sorted(p for p in glob.glob(osp.join(root, '**', '*'), recursive=True)
                  if osp.isfile(p))


def _read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def test_returned_paths(toy):
    assert toy['classes'] == TOY_COCO_CLASSES
    assert toy['train_ann'] == osp.join(toy['root'], 'annotations', 'instances_train2017.json')
    assert toy['val_ann'] == osp.join(toy['root'], 'annotations', 'instances_val2017.json')
    assert toy['train_img_dir'] == osp.join(toy['root'], 'train2017')
    assert toy['val_img_dir'] == osp.join(toy['root'], 'val2017')
    assert len(glob.glob(osp.join(toy['train_img_dir'], '*.png'))) == 12
    assert len(glob.glob(osp.join(toy['val_img_dir'], '*.png'))) == 4


@pytest.mark.parametrize('ann_key,img_key,num', SPLITS)
def test_coco_structure(toy, ann_key, img_key, num):
    coco = COCO(toy[ann_key])
    with open(toy[ann_key]) as f:
        raw = json.load(f)
    assert 'info' in raw and 'licenses' in raw
    assert sorted(coco.getImgIds()) == list(range(1, num + 1))
    ann_ids = sorted(coco.getAnnIds())
    assert ann_ids == list(range(1, len(ann_ids) + 1))
    cats = coco.loadCats(coco.getCatIds())
    assert [(c['id'], c['name']) for c in cats] == [
        (i + 1, n) for i, n in enumerate(TOY_COCO_CLASSES)]
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        assert (info['width'], info['height']) == (SIZE, SIZE)
        img = cv2.imread(osp.join(toy[img_key], info['file_name']), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
        # Not a flat fill: gradients, texture and noise are present.
        assert img.reshape(-1, 3).std(0).max() > 5
        assert 1 <= len(coco.getAnnIds(imgIds=img_id)) <= 4


@pytest.mark.parametrize('ann_key,img_key,num', SPLITS)
def test_annotations_valid(toy, ann_key, img_key, num):
    coco = COCO(toy[ann_key])
    for ann in coco.loadAnns(coco.getAnnIds()):
        assert ann['iscrowd'] == 0
        assert ann['category_id'] in range(1, len(TOY_COCO_CLASSES) + 1)
        x, y, w, h = ann['bbox']
        assert all(isinstance(v, float) for v in ann['bbox'])
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= SIZE and y + h <= SIZE
        # Objects are 15-45 % of the side; occlusion can only shrink them.
        assert max(w, h) >= 3 and max(w, h) <= 0.65 * SIZE
        assert 0 < ann['area'] <= w * h
        polys = ann['segmentation']
        assert isinstance(polys, list) and polys
        for poly in polys:
            assert len(poly) >= 6 and len(poly) % 2 == 0
            assert all(isinstance(v, float) for v in poly)
        decoded = mask_utils.decode(mask_utils.merge(
            mask_utils.frPyObjects(polys, SIZE, SIZE)))
        assert decoded.shape == (SIZE, SIZE)
        ys, xs = np.nonzero(decoded)
        assert len(xs) > 0
        # The polygon mask lies in the bbox (1 px slack for rasterisation) ...
        assert xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1 and ys.max() <= y + h
        # ... and covers most of the visible area (contours run through the
        # centres of boundary pixels, so the polygon is about 1/2 px smaller).
        assert len(xs) >= 0.6 * ann['area']
        assert len(xs) <= 1.1 * ann['area']
        inside = decoded[int(y):int(y + h), int(x):int(x + w)].sum()
        assert inside >= 0.95 * len(xs)


def test_every_category_appears(toy):
    for ann_key, _, _ in SPLITS[:1]:
        coco = COCO(toy[ann_key])
        counts = {c: len(coco.getAnnIds(catIds=[c])) for c in coco.getCatIds()}
        assert set(counts) == set(range(1, len(TOY_COCO_CLASSES) + 1))
        assert all(n > 0 for n in counts.values()), counts


def test_multiple_objects_and_overlaps(toy):
    coco = COCO(toy['train_ann'])
    per_image = [len(coco.getAnnIds(imgIds=i)) for i in coco.getImgIds()]
    assert max(per_image) >= 2
    assert sum(per_image) / len(per_image) > 1.5

    def overlap(a, b):
        ax, ay, aw, ah = a
        bx, by, bw, bh = b
        return min(ax + aw, bx + bw) > max(ax, bx) and min(ay + ah, by + bh) > max(ay, by)

    pairs = 0
    for img_id in coco.getImgIds():
        boxes = [a['bbox'] for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id))]
        pairs += sum(overlap(boxes[i], boxes[j])
                     for i in range(len(boxes)) for j in range(i + 1, len(boxes)))
    assert pairs >= 1


def test_occlusion_visible_masks():
    occluded = 0
    total = 0
    for i in range(30):
        image, objs = _render_sample(np.random.default_rng([0, 0, i]), SIZE)
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
        union = np.zeros((SIZE, SIZE), np.int32)
        for o in objs:
            assert int(o['visible'].sum()) == o['area']
            # Never less than ~35 % of the drawn shape stays visible.
            assert o['area'] >= 0.35 * o['drawn_area']
            assert o['area'] <= o['drawn_area']
            occluded += o['area'] < 0.95 * o['drawn_area']
            union += o['visible'].astype(np.int32)
            total += 1
        # Visible masks of one image never share a pixel.
        assert union.max() <= 1
    assert total >= 45
    assert occluded >= 3


def test_objects_contrast_with_surroundings():
    # The visible part of each object is one (shaded) colour that differs from
    # the pixels just around it, so the image shows what the labels say.
    kernel = np.ones((5, 5), np.uint8)
    dists, uniform = [], []
    for i in range(20):
        image, objs = _render_sample(np.random.default_rng([0, 0, i]), SIZE)
        img = image.astype(np.float64)
        for o in objs:
            core = cv2.erode(o['visible'], kernel) > 0
            ring = (cv2.dilate(o['visible'], kernel) > 0) & (o['visible'] == 0)
            if core.sum() < 10 or ring.sum() < 10:
                continue
            med = np.median(img[core], 0)
            dists.append(np.linalg.norm(med - np.median(img[ring], 0)))
            uniform.append((np.linalg.norm(img[core] - med, axis=1) < 40).mean())
    dists = np.array(dists)
    assert len(dists) >= 30
    # BGR distances; random colours without the contrast rule give ~80 here.
    assert np.percentile(dists, 10) > 100
    assert dists.min() > 60
    assert min(uniform) > 0.9


def test_deterministic(tmp_path):
    a = make_toy_coco(str(tmp_path / 'a'), **ARGS)
    b = make_toy_coco(str(tmp_path / 'b'), **ARGS)
    fa = [osp.relpath(p, a['root']) for p in _all_files(a['root'])]
    fb = [osp.relpath(p, b['root']) for p in _all_files(b['root'])]
    assert fa == fb and len(fa) == 12 + 4 + 2
    for rel in fa:
        assert _read_bytes(osp.join(a['root'], rel)) == _read_bytes(osp.join(b['root'], rel)), rel

    c = make_toy_coco(str(tmp_path / 'c'), **dict(ARGS, seed=1))
    assert _read_bytes(c['train_ann']) != _read_bytes(a['train_ann'])
    differing = sum(
        _read_bytes(osp.join(a['train_img_dir'], n)) != _read_bytes(osp.join(c['train_img_dir'], n))
        for n in sorted(map(osp.basename, glob.glob(osp.join(a['train_img_dir'], '*.png')))))
    assert differing == 12


def test_idempotent_and_regenerates_on_new_args(tmp_path):
    root = str(tmp_path / 'toy')
    first = make_toy_coco(root, **ARGS)
    files = _all_files(root)
    # Backdate every file, so a rewrite shows whatever the clock resolution.
    old_ns = 1_000_000_000 * 10**9
    for p in files:
        os.utime(p, ns=(old_ns, old_ns))
    again = make_toy_coco(root, **ARGS)
    assert again == first
    assert _all_files(root) == files
    for p in files:
        assert os.stat(p).st_mtime_ns == old_ns, p

    # Different arguments: the dataset is rewritten and the json says so.
    make_toy_coco(root, **dict(ARGS, num_val=5))
    with open(first['val_ann']) as f:
        val = json.load(f)
    assert len(val['images']) == 5
    assert val['info']['toy_coco_args']['num_val'] == 5
    with open(first['train_ann']) as f:
        assert json.load(f)['info']['toy_coco_args']['num_val'] == 5
