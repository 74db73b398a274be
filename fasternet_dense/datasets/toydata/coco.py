"""A small synthetic instance-segmentation dataset in the COCO layout.

``make_toy_coco`` writes::

    root/train2017/000000000001.png              (S x S x 3 uint8 BGR PNG)
    root/val2017/000000000001.png
    root/annotations/instances_train2017.json    (COCO instances format)
    root/annotations/instances_val2017.json

which mmdet's ``CocoDataset`` (``metainfo=dict(classes=TOY_COCO_CLASSES)``)
reads directly. ``S`` is ``image_size`` pixels; all coordinates below are in
pixels of that image, ``x`` to the right and ``y`` down.

Each image has a smooth random background (a linear colour gradient, low-
frequency blotches, sometimes faint stripes, mild noise) and 1 to 4 filled
shapes, one per object, whose class is the category:

* ``circle``: a disc, diameter 15 % to 45 % of ``S``;
* ``square``: a square rotated by any angle, side 15 % to 45 % of ``S``;
* ``triangle``: a roughly equilateral triangle (vertices jittered), rotated by
  any angle, side about 15 % to 45 % of ``S``.

Objects are flat-coloured with a mild brightness ramp; the colour is random
but kept far (Euclidean distance in BGR) from the background and from the
objects it overlaps. Later objects are drawn over earlier ones. An object's
annotation comes from its *visible* mask (what later objects leave of it):

* ``segmentation``: outer contours of the visible mask (``cv2.findContours``,
  ``RETR_EXTERNAL``), each a flat ``[x1, y1, x2, y2, ...]`` float list with at
  least 3 points;
* ``bbox``: ``[x, y, w, h]`` of the visible mask (float, pixel-cell extent);
* ``area``: visible pixel count; ``iscrowd``: 0.

A new object is only placed if every earlier object keeps at least
``_MIN_VISIBLE`` of its drawn area and a valid polygon; otherwise another
placement is tried. Rejecting at placement (rather than dropping annotations
afterwards) keeps every drawn object annotated, so no visible shape ever
teaches the detector "background".

Image and annotation ids start at 1 in each split; category ids are
``1..K`` in ``TOY_COCO_CLASSES`` order. Image ``i`` of a split is drawn from
``numpy.random.default_rng([seed, split, i])``: the same arguments give
byte-identical files, and an image does not depend on how many images the
split has.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ...utils.fileio import atomic_write_text

TOY_COCO_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle')

# Bump when the drawing code changes, so existing folders get regenerated.
_FORMAT_VERSION = 1
_SPLITS = (('train2017', 0), ('val2017', 1))
_MIN_VISIBLE = 0.35          # fraction of the drawn area that must stay visible
_SIZE_RANGE = (0.15, 0.45)   # object extent as a fraction of the image side
_MAX_OBJECTS = 4
_PLACEMENT_TRIES = 25
_MIN_CONTRAST = 110.0        # BGR Euclidean distance (max is ~441)
_MIN_FRAGMENT = 6            # px; smaller visible slivers are not annotated
_SHIFT = 4                   # cv2 sub-pixel bits for shape vertices
_ARGS_KEY = 'toy_coco_args'


# ----------------------------------------------------------------- background
def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Return a float32 ``(size, size, 3)`` BGR background in [0, 255]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    # Linear gradient between two colours along a random direction.
    c0 = rng.uniform(20, 235, size=3)
    c1 = np.clip(c0 + rng.uniform(-80, 80, size=3), 0, 255)
    ang = rng.uniform(0, 2 * np.pi)
    t = np.cos(ang) * xx + np.sin(ang) * yy
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    # Low-frequency blotches: a coarse random grid upsampled smoothly.
    grid = int(rng.integers(3, 7))
    amp = rng.uniform(5, 30)
    blot = rng.uniform(-amp, amp, size=(grid, grid, 3)).astype(np.float32)
    img = img + cv2.resize(blot, (size, size), interpolation=cv2.INTER_CUBIC)
    # Faint stripes in some images, so the background is not always smooth.
    if rng.random() < 0.4:
        period = rng.uniform(0.06, 0.25) * size
        sang = rng.uniform(0, np.pi)
        phase = (np.cos(sang) * xx + np.sin(sang) * yy) * (size - 1)
        stripes = np.sin(2 * np.pi * phase / period) * rng.uniform(6, 18)
        img = img + stripes[..., None]
    return img.astype(np.float32)


# --------------------------------------------------------------------- shapes
def _shape_mask(rng: np.random.Generator, cls: int,
                size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one shape of class index ``cls`` (0-based) at a random place.

    Returns ``(mask, params)``: a ``(size, size)`` uint8 mask in {0, 1} fully
    inside the image, and ``[cx, cy, extent]`` in px (for the shading ramp).
    """
    ext = rng.uniform(*_SIZE_RANGE) * size
    mask = np.zeros((size, size), np.uint8)
    scale = 1 << _SHIFT
    if cls == 0:  # circle: ext is the diameter
        r = ext / 2
        cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
        cv2.circle(mask, (int(round(cx * scale)), int(round(cy * scale))),
                   int(round(r * scale)), 1, -1, cv2.LINE_8, _SHIFT)
    else:
        if cls == 1:  # square: ext is the side
            ang0 = rng.uniform(0, np.pi / 2)
            angles = ang0 + np.arange(4) * np.pi / 2
            radii = np.full(4, ext / np.sqrt(2))
        else:  # triangle: ext is the side of the equilateral it jitters
            ang0 = rng.uniform(0, 2 * np.pi)
            angles = ang0 + np.arange(3) * 2 * np.pi / 3 + rng.uniform(-0.25, 0.25, 3)
            radii = ext / np.sqrt(3) * rng.uniform(0.85, 1.15, 3)
        offs = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], 1)
        lo, hi = -offs.min(0) + 1, size - 1 - offs.max(0)
        cx, cy = rng.uniform(lo, hi)
        pts = np.round((offs + [cx, cy]) * scale).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, _SHIFT)
    return mask, np.array([cx, cy, ext], np.float64)


def _clean(visible: np.ndarray) -> np.ndarray:
    """Remove visible fragments under ``_MIN_FRAGMENT`` px (occlusion slivers)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(visible, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= _MIN_FRAGMENT
    return keep[lab].astype(np.uint8)


def _annotation(visible: np.ndarray) -> Optional[dict]:
    """COCO fields (segmentation, bbox, area) of a uint8 visible mask, or None."""
    contours, _ = cv2.findContours(visible, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    if not polys:
        return None
    ys, xs = np.nonzero(visible)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]
    return dict(segmentation=polys, bbox=bbox, area=float(len(xs)))


def _layout(rng: np.random.Generator, size: int) -> List[dict]:
    """Place 1 to ``_MAX_OBJECTS`` shapes; return them in drawing order.

    Each entry: ``cls`` (0-based), ``mask`` (drawn shape), ``params``,
    ``visible`` (cleaned visible mask) and ``ann`` (see ``_annotation``).
    """
    wanted = int(rng.integers(1, _MAX_OBJECTS + 1))
    objs: List[dict] = []
    # Which object (index + 1) is on top at each pixel; 0 is background.
    owner = np.zeros((size, size), np.int32)
    for _ in range(wanted):
        cls = int(rng.integers(len(TOY_COCO_CLASSES)))
        for _try in range(_PLACEMENT_TRIES):
            mask, params = _shape_mask(rng, cls, size)
            trial = np.where(mask > 0, len(objs) + 1, owner)
            cand = objs + [dict(cls=cls, mask=mask, params=params)]
            results = []
            for k, o in enumerate(cand):
                visible = _clean((trial == k + 1).astype(np.uint8))
                ann = _annotation(visible)
                if ann is None or ann['area'] < _MIN_VISIBLE * o['mask'].sum():
                    break
                results.append((visible, ann))
            if len(results) == len(cand):
                for o, (visible, ann) in zip(cand, results):
                    o['visible'], o['ann'] = visible, ann
                objs, owner = cand, trial
                break
    return objs


def _far_colour(rng: np.random.Generator, refs: List[np.ndarray]) -> np.ndarray:
    """A random BGR colour far from every colour in ``refs`` (best of 40 tries)."""
    best, best_d = None, -1.0
    for _ in range(40):
        c = rng.uniform(0, 255, size=3)
        d = min(float(np.linalg.norm(c - r)) for r in refs)
        if d >= _MIN_CONTRAST:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def _render_sample(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image.

    Returns ``(image, objects)``: ``image`` is ``(size, size, 3)`` uint8 BGR;
    ``objects`` lists, in drawing order, dicts with ``category_id`` (1-based),
    ``drawn_area`` (px of the full shape), ``visible`` (uint8 mask) and the
    COCO fields ``segmentation``, ``bbox``, ``area``.
    """
    img = _background(rng, size)
    objs = _layout(rng, size)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    colours: List[np.ndarray] = []
    for o in objs:
        m = o['mask'] > 0
        # Contrast against what the shape covers: the background under it and
        # any earlier object it overlaps (else the occlusion edge vanishes).
        refs = [img[m].mean(0)]
        refs += [colours[k] for k, p in enumerate(objs[:len(colours)])
                 if (p['mask'] > 0)[m].any()]
        col = _far_colour(rng, refs)
        colours.append(col)
        # Mild brightness ramp across the object so it is not perfectly flat.
        cx, cy, ext = o['params']
        ang = rng.uniform(0, 2 * np.pi)
        ramp = ((xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)) / max(ext, 1.0)
        shade = col[None, None] + (rng.uniform(0, 30) * ramp)[..., None]
        img[m] = shade[m]
    # Slightly soft edges, then sensor-like noise.
    sigma = rng.uniform(0.0, 0.8)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(2, 7), size=img.shape)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    out = []
    for o in objs:
        out.append(dict(category_id=o['cls'] + 1, drawn_area=int(o['mask'].sum()),
                        visible=o['visible'], **o['ann']))
    return image, out


# ----------------------------------------------------------------- top level
def _args_record(num_train: int, num_val: int, image_size: int, seed: int) -> dict:
    return dict(num_train=int(num_train), num_val=int(num_val),
                image_size=int(image_size), seed=int(seed),
                format_version=_FORMAT_VERSION)


def _up_to_date(ann_path: str, img_dir: str, record: dict) -> bool:
    """True if ``ann_path`` was made with ``record`` and its images exist."""
    try:
        with open(ann_path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    if data.get('info', {}).get(_ARGS_KEY) != record:
        return False
    return all(osp.isfile(osp.join(img_dir, im['file_name'])) for im in data['images'])


def make_toy_coco(root: str, num_train: int = 240, num_val: int = 40,
                  image_size: int = 128, seed: int = 0) -> dict:
    """Write the toy COCO dataset under ``root`` (see the module docstring).

    Args:
        root: output folder (created if missing).
        num_train, num_val: number of images per split (each has >= 1 object).
        image_size: side ``S`` of the square images, in pixels.
        seed: base seed; image ``i`` of split ``s`` uses ``[seed, s, i]``.

    Returns:
        ``dict(root, train_ann, val_ann, train_img_dir, val_img_dir, classes)``
        with absolute paths. If both annotation files already exist, were made
        with the same arguments (stored in their ``info``) and their images
        exist, nothing is rewritten.
    """
    root = osp.abspath(root)
    ann_dir = osp.join(root, 'annotations')
    paths = dict(root=root,
                 train_ann=osp.join(ann_dir, 'instances_train2017.json'),
                 val_ann=osp.join(ann_dir, 'instances_val2017.json'),
                 train_img_dir=osp.join(root, 'train2017'),
                 val_img_dir=osp.join(root, 'val2017'),
                 classes=TOY_COCO_CLASSES)
    record = _args_record(num_train, num_val, image_size, seed)
    counts = {'train2017': num_train, 'val2017': num_val}
    split_paths = {'train2017': (paths['train_ann'], paths['train_img_dir']),
                   'val2017': (paths['val_ann'], paths['val_img_dir'])}
    if all(_up_to_date(a, d, record) for a, d in split_paths.values()):
        return paths

    os.makedirs(ann_dir, exist_ok=True)
    # Remove stale annotations first: an interrupted run must not look complete.
    for ann_path, _ in split_paths.values():
        if osp.exists(ann_path):
            os.remove(ann_path)
    categories = [dict(id=i + 1, name=n, supercategory='shape')
                  for i, n in enumerate(TOY_COCO_CLASSES)]
    for split, split_idx in _SPLITS:
        ann_path, img_dir = split_paths[split]
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for i in range(counts[split]):
            rng = np.random.default_rng([int(seed), split_idx, i])
            image, objs = _render_sample(rng, image_size)
            img_id = i + 1
            file_name = f'{img_id:012d}.png'
            if not cv2.imwrite(osp.join(img_dir, file_name), image):
                raise OSError(f'could not write {osp.join(img_dir, file_name)}')
            images.append(dict(id=img_id, file_name=file_name, width=image_size,
                               height=image_size, license=1))
            for o in objs:
                annotations.append(dict(id=len(annotations) + 1, image_id=img_id,
                                        category_id=o['category_id'],
                                        segmentation=o['segmentation'],
                                        bbox=o['bbox'], area=o['area'], iscrowd=0))
        data = dict(
            info=dict(description='fasternet_dense toy COCO (synthetic shapes)',
                      version=str(_FORMAT_VERSION), year=2024, contributor='',
                      url='', date_created='', **{_ARGS_KEY: record}),
            licenses=[dict(id=1, name='synthetic, public domain', url='')],
            images=images, annotations=annotations, categories=categories)
        # Written last and atomically, so its presence marks a finished split.
        atomic_write_text(json.dumps(data, separators=(',', ':')), ann_path)
    return paths
