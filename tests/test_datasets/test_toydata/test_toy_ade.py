"""Tests of the toy ADE20K-layout dataset generator (small sets, 96 px)."""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from fasternet_dense.datasets.toydata.ade import TOY_ADE_CLASSES, make_toy_ade

K = len(TOY_ADE_CLASSES)
SIZE = 96
ARGS = dict(num_train=10, num_val=4, image_size=SIZE, seed=0)
SPLITS = ('training', 'validation')


def _files(root, kind, split, ext):
    return sorted(glob.glob(osp.join(root, kind, split, '*' + ext)))


def _stems(paths):
    return [osp.splitext(osp.basename(p))[0] for p in paths]


def _load_split(root, split):
    imgs = [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in _files(root, 'images', split, '.jpg')]
    labels = [cv2.imread(p, cv2.IMREAD_UNCHANGED)
              for p in _files(root, 'annotations', split, '.png')]
    return imgs, labels


def _all_bytes(root):
    out = {}
    for kind, ext in (('images', '.jpg'), ('annotations', '.png')):
        for split in SPLITS:
            for p in _files(root, kind, split, ext):
                with open(p, 'rb') as f:
                    out[osp.relpath(p, root)] = f.read()
    return out


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_ade'))
    info = make_toy_ade(root, **ARGS)
    return root, info


def test_return_value(toy):
    root, info = toy
    assert info['root'] == root
    assert tuple(info['classes']) == TOY_ADE_CLASSES
    assert 4 <= K <= 6
    assert len(info['palette']) == K
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in info['palette'])


def test_layout_and_counts(toy):
    root, _ = toy
    for split, count in (('training', ARGS['num_train']), ('validation', ARGS['num_val'])):
        imgs = _files(root, 'images', split, '.jpg')
        anns = _files(root, 'annotations', split, '.png')
        assert len(imgs) == count and len(anns) == count
        assert _stems(imgs) == _stems(anns)
        assert len(set(_stems(imgs))) == count
    # Training and validation must be different images.
    assert not set(_stems(_files(root, 'images', 'training', '.jpg'))) & \
        set(_stems(_files(root, 'images', 'validation', '.jpg')))
    assert osp.isfile(osp.join(root, 'toy_ade.json'))


def test_images_and_labels_format(toy):
    root, _ = toy
    for split in SPLITS:
        imgs, labels = _load_split(root, split)
        for img, label in zip(imgs, labels):
            assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
            assert label.shape == (SIZE, SIZE) and label.dtype == np.uint8
            assert label.max() <= K


def test_class_coverage_and_ignore_fraction(toy):
    root, _ = toy
    _, labels = _load_split(root, 'training')
    stacked = np.stack(labels)
    present = set(np.unique(stacked).tolist())
    assert set(range(1, K + 1)) <= present, f'missing classes: {set(range(1, K + 1)) - present}'
    ignore = float((stacked == 0).mean())
    assert 0.0 < ignore < 0.1, ignore
    # The background class dominates but leaves real room for the others.
    ground = float((stacked == 1).mean())
    assert 0.4 < ground < 0.9, ground


def test_classes_separated_by_ignore(toy):
    """Two different labelled classes never touch: an ignore band lies between."""
    root, _ = toy
    for split in SPLITS:
        for label in _load_split(root, split)[1]:
            for a, b in ((label[:, 1:], label[:, :-1]), (label[1:, :], label[:-1, :])):
                touching = (a != b) & (a != 0) & (b != 0)
                assert not touching.any()
            # ...and the band is thin: it has no 3x3 solid blocks, apart from
            # rare junctions of three regions.
            band = (label == 0).astype(np.uint8)
            core = cv2.erode(band, np.ones((3, 3), np.uint8))
            assert core.sum() <= 0.1 * max(1, band.sum())


def _texture_and_contrast(imgs, labels):
    """Per-class mean texture energy, and each object's colour contrast.

    Texture energy: mean over a class's interior pixels (2 px away from any
    other label) of the summed per-channel absolute Laplacian. Contrast: the
    Euclidean BGR distance between the mean colour of a foreground class in
    an image and the mean colour of that image's ground.
    """
    kernel = np.ones((5, 5), np.uint8)
    energy = {c: [] for c in range(1, K + 1)}
    contrast = []
    for img, label in zip(imgs, labels):
        lap = np.abs(cv2.Laplacian(img.astype(np.float32), cv2.CV_32F)).sum(axis=2)
        interior = {c: cv2.erode((label == c).astype(np.uint8), kernel).astype(bool)
                    for c in range(1, K + 1)}
        ground = interior[1]
        for c, mask in interior.items():
            if mask.sum() < 30:
                continue
            energy[c].append(lap[mask])
            if c != 1 and ground.sum() >= 30:
                contrast.append(float(np.linalg.norm(
                    img[mask].mean(axis=0) - img[ground].mean(axis=0))))
    energy = {c: float(np.concatenate(v).mean()) if v else float('nan')
              for c, v in energy.items()}
    return energy, contrast


def test_images_carry_the_labels(toy):
    root, _ = toy
    imgs, labels = _load_split(root, 'training')
    energy, contrast = _texture_and_contrast(imgs, labels)
    assert not any(np.isnan(v) for v in energy.values()), energy
    # The flat disc (label 2) is far smoother than the grainy ground and the
    # patterned classes; the patterned ones differ from each other too.
    disc = energy[2]
    for c in (1, 3, 4, 5):
        assert disc < 0.5 * energy[c], energy
    assert max(energy.values()) > 2.0 * min(energy.values()), energy
    # Every object stands out from the ground in mean colour.
    assert len(contrast) >= ARGS['num_train']
    assert min(contrast) > 40.0, sorted(contrast)


def test_label_image_mismatch_is_detected(toy):
    """The statistics above fail when labels are paired with the wrong image."""
    root, _ = toy
    imgs, labels = _load_split(root, 'training')
    shifted = labels[1:] + labels[:1]
    energy, contrast = _texture_and_contrast(imgs, shifted)
    disc_smooth = all(energy[2] < 0.5 * energy[c] for c in (1, 3, 4, 5))
    assert not (disc_smooth and min(contrast) > 40.0)


def test_deterministic(tmp_path):
    a = _all_bytes(make_toy_ade(str(tmp_path / 'a'), **ARGS)['root'])
    b = _all_bytes(make_toy_ade(str(tmp_path / 'b'), **ARGS)['root'])
    assert len(a) == 2 * (ARGS['num_train'] + ARGS['num_val'])
    assert a == b
    c = _all_bytes(make_toy_ade(str(tmp_path / 'c'), **dict(ARGS, seed=1))['root'])
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a)


def test_image_independent_of_split_size(tmp_path):
    small = _all_bytes(make_toy_ade(str(tmp_path / 's'), num_train=3, num_val=2,
                                    image_size=SIZE, seed=0)['root'])
    full = _all_bytes(make_toy_ade(str(tmp_path / 'f'), **ARGS)['root'])
    for k, v in small.items():
        assert full[k] == v


def test_idempotent_and_regenerates_on_new_args(tmp_path):
    root = str(tmp_path / 'd')
    make_toy_ade(root, **ARGS)
    paths = [osp.join(root, k) for k in _all_bytes(root)] + [osp.join(root, 'toy_ade.json')]
    before = {p: os.stat(p).st_mtime_ns for p in paths}
    make_toy_ade(root, **ARGS)
    assert {p: os.stat(p).st_mtime_ns for p in paths} == before

    # Different arguments: regenerated, and no stale files of the larger set.
    make_toy_ade(root, **dict(ARGS, num_train=6))
    assert len(_files(root, 'images', 'training', '.jpg')) == 6
    assert len(_files(root, 'annotations', 'training', '.png')) == 6

    # A deleted file is noticed although the meta file matches.
    make_toy_ade(root, **ARGS)
    victim = _files(root, 'images', 'validation', '.jpg')[0]
    os.remove(victim)
    make_toy_ade(root, **ARGS)
    assert osp.isfile(victim)


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        make_toy_ade(str(tmp_path), image_size=16)
    with pytest.raises(ValueError):
        make_toy_ade(str(tmp_path), num_train=-1)
    with pytest.raises(ValueError):
        make_toy_ade(str(tmp_path), seed=-1)
