"""Checks of a COCO-format annotation file and the images it names (mmdet
``CocoDataset`` and subclasses with a ``.json`` ``ann_file``).

The file is JSON with ``images``, ``annotations`` and ``categories``; the
config's classes are categories; image ids and annotation ids are unique;
annotations name known images and categories; boxes are 4 numbers with
positive size inside the image (1 px tolerance for rounding); polygons have
>= 3 points and a non-zero area; RLE masks have the image's size; images
exist, decode and have the size their entry states.
"""
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from ..errors import DatasetError
from .images import decode_all, probe_image
from .report import ProblemLog, format_size

# Boxes may reach this far (px) past the border: COCO boxes are rounded.
BOX_TOLERANCE = 1.0


class CocoCheck:
    """Result of :func:`check_coco`.

    Attributes:
        problems: the :class:`ProblemLog`.
        data: the parsed annotation file.
        bad_images: indices into ``data['images']`` to drop.
        bad_annotations: indices into ``data['annotations']`` to drop.
    """

    def __init__(self, problems: ProblemLog, data: dict):
        self.problems = problems
        self.data = data
        self.bad_images: Set[int] = set()
        self.bad_annotations: Set[int] = set()
        # Problems that dropping samples cannot fix.
        self.fatal: List[str] = []

    def filtered(self) -> dict:
        """The annotation data without the bad images and annotations (and
        without the annotations of dropped images)."""
        images = [im for i, im in enumerate(self.data['images']) if i not in self.bad_images]
        kept_ids = {im.get('id') for im in images}
        annotations = [a for i, a in enumerate(self.data['annotations'])
                       if i not in self.bad_annotations and a.get('image_id') in kept_ids]
        out = dict(self.data)
        out['images'] = images
        out['annotations'] = annotations
        return out


def _load_coco_json(ann_file: str) -> dict:
    try:
        with open(ann_file, 'rb') as f:
            data = json.loads(f.read())
    except ValueError as err:
        raise DatasetError(f'Annotation file {ann_file} is not valid JSON ({err}); '
                           'a COCO file is one JSON object.') from None
    except OSError as err:
        raise DatasetError(f'Annotation file {ann_file} cannot be read ({err}).') from None
    if not isinstance(data, dict):
        raise DatasetError(f'Annotation file {ann_file} holds a JSON {type(data).__name__}, '
                           'not a COCO object with images, annotations and categories.')
    missing = [k for k in ('images', 'annotations', 'categories') if k not in data]
    if missing:
        raise DatasetError(f'Annotation file {ann_file} is not COCO format: it has no '
                           f'{", ".join(repr(k) for k in missing)} key '
                           f'(keys found: {sorted(data)[:8]}).')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data[key], list):
            raise DatasetError(f'Annotation file {ann_file}: {key!r} is a '
                               f'{type(data[key]).__name__}, not a list.')
    bad_cats = [c for c in data['categories']
                if not isinstance(c, dict) or 'id' not in c or 'name' not in c]
    if bad_cats:
        raise DatasetError(f'Annotation file {ann_file}: category entry {bad_cats[0]!r} '
                           'needs an id and a name.')
    return data


def _number_list(value, length: Optional[int] = None) -> bool:
    return (isinstance(value, (list, tuple)) and (length is None or len(value) == length)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) for v in value))


def _polygon_area(coords: Sequence[float]) -> float:
    xy = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _segmentation_problem(seg, hw: Optional[Tuple[int, int]]) -> Optional[Tuple[str, str]]:
    """``(kind, detail)`` for a bad ``segmentation`` field, else None."""
    if seg is None or seg == []:
        return None
    if isinstance(seg, dict):  # RLE
        size = seg.get('size')
        if 'counts' not in seg or not _number_list(size, 2):
            return 'malformed segmentation', 'RLE needs counts and size [h, w]'
        if hw is not None and tuple(int(s) for s in size) != tuple(hw):
            return 'malformed segmentation', f'RLE size {list(size)} but image is {list(hw)}'
        return None
    if not isinstance(seg, list):
        return 'malformed segmentation', f'a {type(seg).__name__}, not polygons or RLE'
    for poly in seg:
        if not _number_list(poly):
            return 'malformed segmentation', 'a polygon is not a list of numbers'
        if len(poly) % 2:
            return 'malformed segmentation', (f'a polygon has an odd number ({len(poly)}) '
                                              'of coordinates')
        if len(poly) < 6:
            return 'degenerate polygon', f'{len(poly) // 2} points, needs at least 3'
        if _polygon_area(poly) <= 1e-6:
            return 'degenerate polygon', 'zero area'
    return None


def check_coco(ann_file: str, img_dir: str, classes: Optional[Sequence[str]] = None,
               image_read: str = 'auto', decode_limit: int = 2000,
               name: str = 'dataset') -> CocoCheck:
    """Check a COCO annotation file and the images it names.

    Args:
        ann_file: the ``instances_*.json`` path.
        img_dir: the folder ``file_name`` is relative to.
        classes: the classes the dataset will use (``metainfo.classes``);
            each must be a category name. None skips this check.
        image_read: ``'auto'``, ``'decode'`` or ``'header'`` (:mod:`.images`).
        decode_limit: the most images ``'auto'`` decodes fully.
        name: prefix of the problem lines (e.g. ``train_dataloader``).

    Raises:
        DatasetError: if the file is not JSON or not COCO-shaped.
    """
    data = _load_coco_json(ann_file)
    problems = ProblemLog(name)
    result = CocoCheck(problems, data)
    ann_name = ann_file

    cat_ids = {c['id'] for c in data['categories']}
    if classes is not None:
        names = {c['name'] for c in data['categories']}
        absent = [c for c in classes if c not in names]
        if absent:
            message = (f'{name}: classes {absent} of the config are not categories of '
                       f'{ann_name} (its categories: {sorted(names)[:10]}); set '
                       'metainfo=dict(classes=...) in the dataset config to category names')
            result.fatal.append(message)

    # Image entries.
    images: Dict[object, Tuple[int, dict]] = {}
    for i, im in enumerate(data['images']):
        if (not isinstance(im, dict)
                or any(k not in im for k in ('id', 'file_name', 'width', 'height'))
                or not _number_list([im['width'], im['height']])
                or min(im['width'], im['height']) <= 0):
            problems.add('malformed image entry', f'{ann_name} images[{i}]',
                         'needs id, file_name and positive width and height')
            result.bad_images.add(i)
        elif im['id'] in images:
            problems.add('duplicate image id', f'{ann_name} images[{i}]', f'id {im["id"]}')
            result.bad_images.add(i)
        else:
            images[im['id']] = (i, im)

    decode = decode_all(image_read, len(images), decode_limit)
    for img_id, (i, im) in images.items():
        path = osp.join(img_dir, im['file_name'])
        error, hw = probe_image(path, decode)
        if error == 'missing':
            problems.add('image file missing', path)
        elif error:
            problems.add('image unreadable or corrupt', path, error)
        elif hw != (im['height'], im['width']):
            problems.add('image size differs from its annotation entry', path,
                         f'file is {format_size(hw)}, entry says '
                         f'{im["width"]}x{im["height"]}')
        else:
            continue
        result.bad_images.add(i)

    # Annotations.
    ann_ids = set()
    for i, ann in enumerate(data['annotations']):
        where = f'{ann_name} annotations[{i}]'
        if not isinstance(ann, dict):
            problems.add('malformed annotation', where, 'not an object')
            result.bad_annotations.add(i)
            continue
        if 'id' in ann:
            where = f'{ann_name} annotation id {ann["id"]}'
            if ann['id'] in ann_ids:
                problems.add('duplicate annotation id', where)
                result.bad_annotations.add(i)
                continue
            ann_ids.add(ann['id'])
        entry = images.get(ann.get('image_id'))
        if entry is None:
            problems.add('annotation for an unknown image id', where,
                         f'image_id {ann.get("image_id")!r}')
            result.bad_annotations.add(i)
            continue
        im = entry[1]
        where += f' (image {im["file_name"]})'
        if ann.get('category_id') not in cat_ids:
            problems.add('annotation with an unknown category id', where,
                         f'category_id {ann.get("category_id")!r}, known {sorted(cat_ids)[:10]}')
            result.bad_annotations.add(i)
            continue
        bbox = ann.get('bbox')
        if not _number_list(bbox, 4) or bbox[2] <= 0 or bbox[3] <= 0:
            problems.add('malformed box', where, f'bbox {bbox!r}, needs [x, y, w, h] with '
                         'w, h > 0')
            result.bad_annotations.add(i)
            continue
        x, y, w, h = bbox
        width, height = im['width'], im['height']
        if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + w > width + BOX_TOLERANCE
                or y + h > height + BOX_TOLERANCE):
            problems.add('box outside the image', where,
                         f'bbox [x, y, w, h] = {list(bbox)} in a {width}x{height} image')
            result.bad_annotations.add(i)
            continue
        seg_problem = _segmentation_problem(ann.get('segmentation'), (height, width))
        if seg_problem:
            problems.add(seg_problem[0], where, seg_problem[1])
            result.bad_annotations.add(i)
    return result
