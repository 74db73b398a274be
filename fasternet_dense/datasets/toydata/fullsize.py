"""Datasets with the *counts* of COCO train2017 and ADE20K training, for
timing the data checks at full scale (``tools/datacheck_bench.py``).

They hold nothing to learn from. ``make_fullsize_coco`` writes::

    root/train2017/000000000001.jpg ...            (118,287 JPEGs)
    root/annotations/instances_train2017.json      (860,001 polygon annotations)

Images are flat-shaded JPEGs of eight of COCO's common sizes (640x480,
480x640, 640x427, ...); every image of a size has the same bytes, so
writing them is quick, and their entries state their true size. Each
annotation is one star-shaped polygon of 8 to 40 points (about 24 on
average, as in COCO) with coordinates to two decimals inside its image,
and its box and area; the JSON comes out at about COCO's 448 MB.

``make_fullsize_ade`` writes 20,210 samples in the ADE20K layout::

    root/images/training/ADE_train_00000001.jpg
    root/annotations/training/ADE_train_00000001.png

Label maps have a short side of 512 and a long side of 512 to 1024 pixels,
with Voronoi regions of 6 to 16 classes out of ``0..150`` (0 is ADE20K's
"other", ignored with ``reduce_zero_label``); 256 distinct maps are drawn
and repeated. Each image is a flat JPEG of its label map's size.

Both are deterministic for a ``seed``; a folder that holds a finished set
made with the same arguments (``fullsize.json``) is kept, not rewritten.
"""
import json
import os
import os.path as osp
from io import BytesIO
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ...utils.fileio import AtomicWriter, atomic_write_text

COCO_TRAIN_IMAGES = 118287
COCO_TRAIN_ANNOTATIONS = 860001
ADE_TRAIN_SAMPLES = 20210
ADE_NUM_CLASSES = 150

# (height, width) of the images; COCO's most common sizes.
_COCO_SIZES = ((480, 640), (640, 480), (427, 640), (640, 427), (426, 640), (424, 640),
               (375, 500), (612, 612))
_ADE_LONG_SIDES = (512, 640, 683, 768, 910, 1024)
_ADE_DISTINCT_MAPS = 256
_STAMP = 'fullsize.json'
_FORMAT_VERSION = 1


def _jpeg_bytes(height: int, width: int, shade: int) -> bytes:
    ramp = np.linspace(shade, 255 - shade, width, dtype=np.float32)
    pixels = np.broadcast_to(ramp[None, :, None], (height, width, 3)).astype(np.uint8)
    buf = BytesIO()
    Image.fromarray(pixels).save(buf, format='JPEG', quality=75)
    return buf.getvalue()


def _finished(root: str, args: dict) -> bool:
    stamp = osp.join(root, _STAMP)
    if not osp.isfile(stamp):
        return False
    with open(stamp) as f:
        return json.load(f) == args


def _write_files(folder: str, names: List[str], blobs: List[bytes], which: np.ndarray) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, index in zip(names, which):
        with open(osp.join(folder, name), 'wb') as f:
            f.write(blobs[index])


def _star_polygon(rng: np.random.Generator, height: int, width: int) -> List[float]:
    points = int(rng.integers(8, 41))
    radius = rng.uniform(4.0, min(height, width) / 4)
    cx = rng.uniform(radius, width - radius)
    cy = rng.uniform(radius, height - radius)
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    r = radius * rng.uniform(0.6, 1.0, points)
    xy = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    return np.round(xy, 2).ravel().tolist()


def _annotation(rng, ann_id: int, image: dict, num_classes: int) -> dict:
    poly = _star_polygon(rng, image['height'], image['width'])
    x, y = poly[0::2], poly[1::2]
    area = 0.5 * abs(sum(x[i] * y[i - 1] - x[i - 1] * y[i] for i in range(len(x))))
    x0, y0 = min(x), min(y)
    return dict(id=ann_id, image_id=image['id'], category_id=int(rng.integers(1, num_classes + 1)),
                segmentation=[poly], area=round(area, 2), iscrowd=0,
                bbox=[x0, y0, round(max(x) - x0, 2), round(max(y) - y0, 2)])


def make_fullsize_coco(root: str, num_images: int = COCO_TRAIN_IMAGES,
                       num_annotations: int = COCO_TRAIN_ANNOTATIONS,
                       classes: Optional[Sequence[str]] = None, num_classes: int = 80,
                       seed: int = 0) -> Dict[str, object]:
    """Write (or keep) a COCO-format training set of full size under ``root``.

    Args:
        classes: the category names (mmdet's ``CocoDataset`` reads COCO's
            80); else ``class1`` to ``class<num_classes>``.

    Returns:
        ``dict(root=, ann_file=, img_dir=, classes=)``.
    """
    classes = list(classes or [f'class{i}' for i in range(1, num_classes + 1)])
    num_classes = len(classes)
    args = dict(kind='coco', version=_FORMAT_VERSION, num_images=num_images,
                num_annotations=num_annotations, classes=classes, seed=seed)
    img_dir = osp.join(root, 'train2017')
    ann_file = osp.join(root, 'annotations', 'instances_train2017.json')
    out = dict(root=root, ann_file=ann_file, img_dir=img_dir, classes=classes)
    if _finished(root, args):
        return out
    rng = np.random.default_rng(seed)
    blobs = [_jpeg_bytes(h, w, 40 + 20 * i) for i, (h, w) in enumerate(_COCO_SIZES)]
    which = rng.integers(0, len(_COCO_SIZES), num_images)
    images = [dict(id=i + 1, file_name=f'{i + 1:012d}.jpg', height=_COCO_SIZES[k][0],
                   width=_COCO_SIZES[k][1]) for i, k in enumerate(which)]
    _write_files(img_dir, [im['file_name'] for im in images], blobs, which)
    owners = np.sort(rng.integers(0, num_images, num_annotations))
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with AtomicWriter(ann_file, 'w') as f:
        f.write('{"images":' + json.dumps(images) + ',"annotations":[')
        for start in range(0, num_annotations, 20000):
            chunk = [_annotation(rng, start + j + 1, images[owner], num_classes)
                     for j, owner in enumerate(owners[start:start + 20000])]
            f.write((',' if start else '') + json.dumps(chunk)[1:-1])
        categories = [dict(id=i, name=name, supercategory='none')
                      for i, name in enumerate(classes, 1)]
        f.write('],"categories":' + json.dumps(categories) + '}')
    atomic_write_text(json.dumps(args), osp.join(root, _STAMP))
    return out


def _voronoi_label(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A ``(height, width)`` uint8 map of Voronoi regions (drawn at a
    quarter of the size and enlarged, so boundaries are 4-pixel steps)."""
    regions = int(rng.integers(6, 17))
    classes = rng.integers(0, ADE_NUM_CLASSES + 1, regions).astype(np.uint8)
    h4, w4 = (height + 3) // 4, (width + 3) // 4
    seeds = rng.uniform(0, 1, (regions, 2)) * (h4, w4)
    yy, xx = np.mgrid[0:h4, 0:w4]
    dist = (yy[None] - seeds[:, 0, None, None]) ** 2 + (xx[None] - seeds[:, 1, None, None]) ** 2
    small = classes[dist.argmin(0)]
    return np.repeat(np.repeat(small, 4, 0), 4, 1)[:height, :width]


def make_fullsize_ade(root: str, num_samples: int = ADE_TRAIN_SAMPLES,
                      seed: int = 0) -> Dict[str, object]:
    """Write (or keep) an ADE20K-layout training set of full size.

    Returns:
        ``dict(root=, img_dir=, seg_dir=, num_classes=)``.
    """
    args = dict(kind='ade', version=_FORMAT_VERSION, num_samples=num_samples, seed=seed)
    img_dir = osp.join(root, 'images', 'training')
    seg_dir = osp.join(root, 'annotations', 'training')
    out = dict(root=root, img_dir=img_dir, seg_dir=seg_dir, num_classes=ADE_NUM_CLASSES)
    if _finished(root, args):
        return out
    rng = np.random.default_rng(seed)
    sizes: List[Tuple[int, int]] = []
    labels, pictures = [], {}
    for i in range(_ADE_DISTINCT_MAPS):
        long_side = int(rng.choice(_ADE_LONG_SIDES))
        size = (512, long_side) if rng.uniform() < 0.7 else (long_side, 512)
        buf = BytesIO()
        Image.fromarray(_voronoi_label(rng, *size)).save(buf, format='PNG')
        labels.append(buf.getvalue())
        sizes.append(size)
        if size not in pictures:
            pictures[size] = _jpeg_bytes(*size, 30 + 7 * len(pictures))
    which = rng.integers(0, _ADE_DISTINCT_MAPS, num_samples)
    names = [f'ADE_train_{i + 1:08d}' for i in range(num_samples)]
    _write_files(seg_dir, [n + '.png' for n in names], labels, which)
    size_blobs = [pictures[s] for s in sizes]
    _write_files(img_dir, [n + '.jpg' for n in names], size_blobs, which)
    atomic_write_text(json.dumps(args), osp.join(root, _STAMP))
    return out
