"""A small synthetic semantic-segmentation dataset in the ADE20K layout.

``make_toy_ade`` writes::

    root/images/training/toy_train_000000.jpg       (H x W x 3 uint8 BGR JPEG)
    root/images/validation/toy_val_000000.jpg
    root/annotations/training/toy_train_000000.png  (H x W uint8, one channel)
    root/annotations/validation/toy_val_000000.png
    root/toy_ade.json                                (arguments; written last)

which mmseg's ``ADE20KDataset`` (``img_suffix='.jpg'``, ``seg_map_suffix='.png'``,
``reduce_zero_label=True``) reads directly.

Label values follow ADE20K: ``0`` is unlabelled/ignore and ``1..K`` are
``TOY_ADE_CLASSES`` in order, so ``reduce_zero_label`` maps them to ``0..K-1``
and ``0`` to 255 (ignored). Every image is ``image_size x image_size`` pixels:

* ``ground`` covers whatever no object covers; mottled colour (low-frequency
  blotches, a lighting gradient) plus strong fine-grain noise;
* ``disc``: a filled circle of one flat colour, slightly shaded towards its rim;
* ``box``: a rotated rectangle with a two-colour checkerboard;
* ``stripes``: a rotated ellipse with two-colour stripes at their own angle;
* ``triangle``: a triangle with a grid of round dots.

Each image has 1 to 4 objects of random size (a radius or half-side of
roughly 9 % to 40 % of the image side), position, rotation, colours and
texture period; later objects are drawn on top of earlier ones. Colours are
random but kept apart (Euclidean distance in BGR) from the ground colour and
from each other within an object, so every object stands out. Pixels on a
class boundary (those with a 4-neighbour of another class, a band 2 px wide
in total) are set to ``0``, mimicking ADE20K's unlabelled edges.

Everything is drawn from ``numpy.random.default_rng`` seeded per image with
``(seed, split, index)``: the same arguments give byte-identical files, and
image ``i`` does not depend on how many images the split has.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from ...utils.fileio import atomic_write_text

TOY_ADE_CLASSES: Tuple[str, ...] = ('ground', 'disc', 'box', 'stripes', 'triangle')
# RGB, one per class (mmseg's metainfo convention), for visualisation only.
TOY_ADE_PALETTE: List[List[int]] = [
    [120, 120, 120], [230, 60, 60], [60, 160, 230], [240, 200, 40], [80, 200, 90]
]

_META_NAME = 'toy_ade.json'
# Bump when the drawing code changes, so existing folders get regenerated.
_FORMAT_VERSION = 1
_JPEG_QUALITY = 95
_SPLITS = (('training', 'train', 0), ('validation', 'val', 1))
# Label values (0 is ignore).
_GROUND, _DISC, _BOX, _STRIPES, _TRIANGLE = 1, 2, 3, 4, 5
_FOREGROUND = (_DISC, _BOX, _STRIPES, _TRIANGLE)


def _colour_far_from(rng: np.random.Generator, refs: List[np.ndarray],
                     min_dist: float) -> np.ndarray:
    """A random BGR colour (float32, 0..255) at least ``min_dist`` from all ``refs``.

    Rejection sampling; after 64 tries the best candidate is kept so the loop
    always ends (and stays deterministic).
    """
    best, best_d = None, -1.0
    for _ in range(64):
        c = rng.integers(0, 256, size=3).astype(np.float32)
        d = min(float(np.linalg.norm(c - r)) for r in refs)
        if d >= min_dist:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _luma(c: np.ndarray) -> float:
    """Luma (grey level) of a BGR colour."""
    return float(0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2])


def _object_colours(rng: np.random.Generator,
                    ground: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Primary and secondary colour of a textured object.

    Both must differ from the ground colour, and from each other, also in
    luma, so the pattern shows whatever the hues; their mix must differ from
    the ground so the object stands out at a coarse scale too.
    """
    c1 = _colour_far_from(rng, [ground], 110.0)
    c2 = c1
    for _ in range(256):
        c2 = _colour_far_from(rng, [ground, c1], 80.0)
        if (abs(_luma(c2) - _luma(c1)) >= 50.0
                and np.linalg.norm(0.5 * (c1 + c2) - ground) >= 60.0):
            break
    return c1, c2


def _local_coords(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float,
                  angle: float) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by ``angle`` (radians) about ``(cx, cy)``."""
    dx, dy = xx - cx, yy - cy
    ca, sa = np.cos(angle), np.sin(angle)
    return dx * ca + dy * sa, -dx * sa + dy * ca


def _draw_ground(rng: np.random.Generator, size: int, xx: np.ndarray,
                 yy: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Ground colour (BGR, float32) and an H x W x 3 float32 ground image."""
    base = rng.integers(0, 256, size=3).astype(np.float32)
    # Low-frequency blotches: a coarse random field upsampled smoothly.
    coarse = rng.normal(0.0, 18.0, size=(4, 4, 3)).astype(np.float32)
    blotches = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    # A lighting gradient across the image, in units of grey levels.
    gx, gy = rng.uniform(-20.0, 20.0, size=2)
    gradient = (gx * (xx / size - 0.5) + gy * (yy / size - 0.5))[..., None]
    # Fine grain: the ground's signature texture (objects are smoother or
    # regularly patterned).
    grain = rng.normal(0.0, 14.0, size=(size, size, 3)).astype(np.float32)
    return base, base + blotches + gradient + grain


def _draw_object(rng: np.random.Generator, cls: int, size: int, xx: np.ndarray,
                 yy: np.ndarray, ground: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mask (H x W bool) and appearance (H x W x 3 float32) of one object."""
    s = size / 128.0  # texture periods and sizes are designed for 128 px
    cx, cy = rng.uniform(0.1 * size, 0.9 * size, size=2)
    angle = rng.uniform(0.0, np.pi)
    if cls == _DISC:
        r = rng.uniform(0.10, 0.28) * size
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r ** 2
        mask = d2 <= 1.0
        colour = _colour_far_from(rng, [ground], 110.0)
        # Flat colour, darkening by up to 15 % towards the rim, faint noise.
        shade = 1.0 - 0.15 * np.minimum(d2, 1.0)
        img = colour * shade[..., None]
        img = img + rng.normal(0.0, 2.0, size=img.shape).astype(np.float32)
        return mask, img
    c1, c2 = _object_colours(rng, ground)
    u, v = _local_coords(xx, yy, cx, cy, angle)
    if cls == _BOX:
        hw, hh = rng.uniform(0.09, 0.28, size=2) * size
        mask = (np.abs(u) <= hw) & (np.abs(v) <= hh)
        cell = max(3.0, rng.uniform(4.0, 6.0) * s)  # checker square side, px
        pattern = (np.floor(u / cell) + np.floor(v / cell)) % 2 == 0
    elif cls == _STRIPES:
        a = rng.uniform(0.18, 0.40) * size
        b = rng.uniform(0.10, 0.20) * size
        mask = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        period = max(6.0, rng.uniform(11.0, 16.0) * s)  # one light + one dark stripe
        phi = rng.uniform(0.0, np.pi)  # stripe direction, independent of the blob
        t = xx * np.cos(phi) + yy * np.sin(phi)
        pattern = np.sin(2.0 * np.pi * t / period) >= 0.0
    elif cls == _TRIANGLE:
        radius = rng.uniform(0.20, 0.38) * size
        # Vertices roughly 120 degrees apart keep the triangle from being a sliver.
        thetas = angle + np.array([0.0, 2.0, 4.0]) * np.pi / 3.0 \
            + rng.uniform(-0.35, 0.35, size=3)
        radii = radius * rng.uniform(0.8, 1.2, size=3)
        px, py = cx + radii * np.cos(thetas), cy + radii * np.sin(thetas)
        # Inside = on the inner side of all three edges; the sign of the
        # signed area makes this independent of the vertex order.
        orient = np.sign((px[1] - px[0]) * (py[2] - py[0]) - (py[1] - py[0]) * (px[2] - px[0]))
        mask = np.ones((size, size), dtype=bool)
        for i in range(3):
            j = (i + 1) % 3
            cross = (px[j] - px[i]) * (yy - py[i]) - (py[j] - py[i]) * (xx - px[i])
            mask &= orient * cross >= 0.0
        pitch = max(5.0, rng.uniform(7.0, 10.0) * s)  # dot grid spacing, px
        du = np.mod(u, pitch) - 0.5 * pitch
        dv = np.mod(v, pitch) - 0.5 * pitch
        pattern = du ** 2 + dv ** 2 <= (0.25 * pitch) ** 2
    else:
        raise ValueError(f'unknown foreground label {cls}')
    img = np.where(pattern[..., None], c2, c1).astype(np.float32)
    img = img + rng.normal(0.0, 2.0, size=img.shape).astype(np.float32)
    return mask, img


def _ignore_boundaries(label: np.ndarray) -> np.ndarray:
    """Set to 0 every pixel with a 4-neighbour of a different class."""
    edge = np.zeros(label.shape, dtype=bool)
    diff_h = label[:, 1:] != label[:, :-1]
    diff_v = label[1:, :] != label[:-1, :]
    edge[:, 1:] |= diff_h
    edge[:, :-1] |= diff_h
    edge[1:, :] |= diff_v
    edge[:-1, :] |= diff_v
    out = label.copy()
    out[edge] = 0
    return out


def render_sample(rng: np.random.Generator, image_size: int,
                  force_class: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one sample.

    Args:
        rng: the generator all randomness comes from.
        image_size: side length in pixels.
        force_class: if in ``2..K``, the topmost object has this class (so a
            split is guaranteed to contain every class); 0 for random.

    Returns:
        ``(image, label)``: ``image_size x image_size x 3`` uint8 BGR and
        ``image_size x image_size`` uint8 with values ``0..K``.
    """
    size = int(image_size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    ground, img = _draw_ground(rng, size, xx, yy)
    label = np.full((size, size), _GROUND, dtype=np.uint8)
    n = int(rng.integers(1, 5))
    classes = [int(c) for c in rng.choice(_FOREGROUND, size=n)]
    if force_class:
        classes[-1] = int(force_class)
    for cls in classes:  # in drawing order: later ones occlude earlier ones
        mask, obj = _draw_object(rng, cls, size, xx, yy, ground)
        img[mask] = obj[mask]
        label[mask] = cls
    # Faint sensor noise over everything, so no region is perfectly flat.
    img += rng.normal(0.0, 1.5, size=img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return image, _ignore_boundaries(label)


def _file_stems(prefix: str, count: int) -> List[str]:
    return [f'toy_{prefix}_{i:06d}' for i in range(count)]


def _all_files_present(root: str, counts: Dict[str, int]) -> bool:
    for split, prefix, _ in _SPLITS:
        for stem in _file_stems(prefix, counts[split]):
            if not (osp.isfile(osp.join(root, 'images', split, stem + '.jpg'))
                    and osp.isfile(osp.join(root, 'annotations', split, stem + '.png'))):
                return False
    return True


def make_toy_ade(root: str, num_train: int = 200, num_val: int = 40,
                 image_size: int = 128, seed: int = 0) -> dict:
    """Write the toy ADE dataset under ``root`` (see the module docstring).

    Args:
        root: output folder (created if missing).
        num_train, num_val: number of training / validation images (>= 0).
        image_size: side of the square images in pixels (>= 32).
        seed: non-negative integer; the same arguments give identical files.

    Returns:
        ``dict(root=root, classes=TOY_ADE_CLASSES, palette=[[r, g, b], ...])``
        with one palette entry per class.

    Idempotent: when ``root/toy_ade.json`` (written after all images) holds
    the same arguments and all files exist, nothing is rewritten. Otherwise
    the dataset is regenerated and ``toy_*`` files of an earlier, larger
    dataset in the four folders are removed.
    """
    if num_train < 0 or num_val < 0:
        raise ValueError(f'num_train and num_val must be >= 0, got {num_train}, {num_val}')
    if image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {image_size}')
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    result = dict(root=root, classes=TOY_ADE_CLASSES,
                  palette=[list(c) for c in TOY_ADE_PALETTE])
    meta = dict(version=_FORMAT_VERSION, num_train=int(num_train), num_val=int(num_val),
                image_size=int(image_size), seed=int(seed))
    counts = dict(training=int(num_train), validation=int(num_val))
    meta_path = osp.join(root, _META_NAME)
    if osp.isfile(meta_path):
        try:
            with open(meta_path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old == meta and _all_files_present(root, counts):
            return result
        # Drop the stale meta first, so an interrupted rewrite is not mistaken
        # for a finished one.
        os.remove(meta_path)

    for split, prefix, split_code in _SPLITS:
        img_dir = osp.join(root, 'images', split)
        ann_dir = osp.join(root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        stems = _file_stems(prefix, counts[split])
        keep = set(stems)
        for folder, ext in ((img_dir, '.jpg'), (ann_dir, '.png')):
            for name in os.listdir(folder):
                stem, e = osp.splitext(name)
                if e == ext and stem.startswith(f'toy_{prefix}_') and stem not in keep:
                    os.remove(osp.join(folder, name))
        for i, stem in enumerate(stems):
            # One stream per image: files do not depend on the split sizes.
            rng = np.random.default_rng([int(seed), split_code, i])
            # Cycle the topmost object through the classes so that any 4
            # consecutive images contain every foreground class.
            force = _FOREGROUND[i % len(_FOREGROUND)]
            image, label = render_sample(rng, image_size, force_class=force)
            if not cv2.imwrite(osp.join(img_dir, stem + '.jpg'), image,
                               [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]):
                raise OSError(f'could not write {osp.join(img_dir, stem + ".jpg")}')
            if not cv2.imwrite(osp.join(ann_dir, stem + '.png'), label):
                raise OSError(f'could not write {osp.join(ann_dir, stem + ".png")}')

    atomic_write_text(json.dumps(meta, indent=1, sort_keys=True), meta_path)
    return result
