"""Content checks of training data, run before the model is built.

A broken image or annotation otherwise surfaces as a traceback from a
dataloader worker hours into a run. :func:`check_data` reads every sample a
config's dataloaders name and reports each kind of problem once, with the
first file it was found in and how many more there are.

Checked layouts:

* COCO-format detection / instance segmentation (mmdet ``CocoDataset`` and
  subclasses with a ``.json`` ``ann_file``): the file is JSON with
  ``images``, ``annotations`` and ``categories``; the config's classes are
  categories; image ids and annotation ids are unique; annotations name known
  images and categories; boxes are 4 numbers with positive size inside the
  image (1 px tolerance for rounding); polygons have >= 3 points and a
  non-zero area; RLE masks have the image's size; images exist, decode and
  have the size their entry states.
* Semantic segmentation in the ADE20K layout (mmseg ``BaseSegDataset`` and
  subclasses: images under ``data_prefix.img_path`` with ``img_suffix``,
  label maps under ``data_prefix.seg_map_path`` with ``seg_map_suffix``,
  optionally a list of names in ``ann_file``): every image has a label map,
  both decode, the label map has one channel and the image's size, and its
  values are classes or ignore: ``1..K`` plus ``0`` and ``255`` with
  ``reduce_zero_label``, ``0..K-1`` plus ``255`` without.

Image reading: with ``image_read='decode'`` every image is fully decoded with
Pillow, which (unlike OpenCV) fails on truncated files; with ``'header'`` only
the header is parsed (format, size) and the file's end is checked for the
JPEG end marker or the PNG ``IEND`` chunk, which catches truncation at a
fraction of the cost. ``'auto'`` (default) decodes sets of up to
``decode_limit`` images and reads headers beyond. Label maps are always
decoded, since their values are checked.

Config (all optional)::

    data_check = dict(enabled=True, skip_bad=False, image_read='auto',
                      decode_limit=2000)

When there are more problems than lines, all of them are listed in
``<work_dir>/data_check/<loader>_<name>_problems.txt``.

``skip_bad=True`` drops bad samples with a warning instead of stopping: a
filtered copy of the COCO annotation file (or, for segmentation, a list of
the good sample names) is written to ``<work_dir>/data_check/`` and the
dataset config (and a COCO evaluator reading the same file) is pointed at it.
"""
import inspect
import json
import logging
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log
from PIL import Image

from .errors import ConfigError, DatasetError
from .preflight import leaf_datasets
from .fileio import atomic_write_text
from .tasks import task_registries

DATA_CHECK_DEFAULTS = dict(enabled=True, skip_bad=False, image_read='auto', decode_limit=2000)
IMAGE_READ_MODES = ('auto', 'decode', 'header')
# Boxes may reach this far (px) past the border: COCO boxes are rounded.
BOX_TOLERANCE = 1.0
# Where filtered annotation files go, under the work dir.
FILTERED_DIR = 'data_check'

_PNG_END = b'IEND\xaeB`\x82'
_JPEG_END = b'\xff\xd9'


# --------------------------------------------------------------- reporting
class ProblemLog:
    """Problems of one dataset, grouped by kind in the order first found."""

    def __init__(self, name: str):
        self.name = name
        self._kinds: 'OrderedDict[str, List[Tuple[str, str]]]' = OrderedDict()

    def add(self, kind: str, where: str, detail: str = '') -> None:
        """Record one occurrence of ``kind`` at ``where`` (a file, an entry)."""
        self._kinds.setdefault(kind, []).append((where, detail))

    def __bool__(self) -> bool:
        return bool(self._kinds)

    def count(self, kind: str) -> int:
        return len(self._kinds.get(kind, ()))

    def total(self) -> int:
        return sum(len(found) for found in self._kinds.values())

    @property
    def kinds(self) -> List[str]:
        return list(self._kinds)

    def lines(self) -> List[str]:
        """One line per kind: the first occurrence and how many more."""
        out = []
        for kind, found in self._kinds.items():
            where, detail = found[0]
            line = f'{self.name}: {kind}: {where}' + (f' ({detail})' if detail else '')
            if len(found) > 1:
                line += f' ... and {len(found) - 1} more'
            out.append(line)
        return out

    def all_lines(self) -> List[str]:
        """Every occurrence, one per line."""
        return [f'{kind}: {where}' + (f' ({detail})' if detail else '')
                for kind, found in self._kinds.items() for where, detail in found]


def _format_size(hw: Tuple[int, int]) -> str:
    return f'{hw[1]}x{hw[0]}'


# ------------------------------------------------------------------ images
def _tail_ok(path: str, fmt: Optional[str]) -> bool:
    """Whether the file ends like a complete JPEG / PNG (other formats: True)."""
    if fmt not in ('JPEG', 'PNG'):
        return True
    with open(path, 'rb') as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 64))
        tail = f.read()
    if fmt == 'PNG':
        return tail.endswith(_PNG_END)
    # Some writers pad JPEGs after the end marker.
    return tail.rstrip(b'\x00').endswith(_JPEG_END)


def probe_image(path: str, decode: bool) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """Check that ``path`` is a readable image.

    Returns:
        ``(error, (height, width))``: ``error`` is None for a good image, else
        a short reason (the size is then None).
    """
    try:
        with Image.open(path) as im:
            width, height = im.size
            if decode:
                im.load()
            elif not _tail_ok(path, im.format):
                return f'{im.format} file is truncated', None
    except FileNotFoundError:
        return 'missing', None
    except Exception as err:  # Pillow raises many types for bad files
        return f'{type(err).__name__}: {err}', None
    return None, (height, width)


def _read_label(path: str) -> Tuple[Optional[str], Optional[np.ndarray]]:
    """Decode a label map as mmseg does (Pillow, values unchanged)."""
    try:
        with Image.open(path) as im:
            return None, np.asarray(im)
    except FileNotFoundError:
        return 'missing', None
    except Exception as err:
        return f'{type(err).__name__}: {err}', None


def _decode_images(mode: str, count: int, limit: int) -> bool:
    return mode == 'decode' or (mode == 'auto' and count <= limit)


# -------------------------------------------------------------------- COCO
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
        image_read: ``'auto'``, ``'decode'`` or ``'header'`` (module docstring).
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

    decode = _decode_images(image_read, len(images), decode_limit)
    for img_id, (i, im) in images.items():
        path = osp.join(img_dir, im['file_name'])
        error, hw = probe_image(path, decode)
        if error == 'missing':
            problems.add('image file missing', path)
        elif error:
            problems.add('image unreadable or corrupt', path, error)
        elif hw != (im['height'], im['width']):
            problems.add('image size differs from its annotation entry', path,
                         f'file is {_format_size(hw)}, entry says '
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


# ------------------------------------------------------------ segmentation
class SegCheck:
    """Result of :func:`check_seg_layout`: ``problems``, the sample ``names``
    (image paths relative to the image folder, without suffix) in the
    order the dataset reads them, and the ``bad`` ones among them."""

    def __init__(self, problems: ProblemLog, names: List[str]):
        self.problems = problems
        self.names = names
        self.bad: Set[str] = set()
        self.fatal: List[str] = []


def _list_images(img_dir: str, suffix: str) -> List[str]:
    names = []
    for root, _, files in os.walk(img_dir):
        for f in files:
            if f.endswith(suffix):
                rel = osp.relpath(osp.join(root, f), img_dir)
                names.append(rel[:-len(suffix)] if suffix else rel)
    # mmseg sorts by image path.
    return sorted(names, key=lambda n: osp.join(img_dir, n + suffix))


def _describe_valid(num_classes: int, reduce_zero_label: bool) -> str:
    if reduce_zero_label:
        return f'valid: 1..{num_classes} classes, 0 and 255 ignore (reduce_zero_label)'
    return f'valid: 0..{num_classes - 1} classes, 255 ignore'


def check_seg_layout(img_dir: str, seg_dir: Optional[str], img_suffix: str = '.jpg',
                     seg_map_suffix: str = '.png', ann_file: Optional[str] = None,
                     num_classes: Optional[int] = None, reduce_zero_label: bool = False,
                     image_read: str = 'auto', decode_limit: int = 2000,
                     name: str = 'dataset') -> SegCheck:
    """Check an image folder and its label-map folder (ADE20K layout).

    Args:
        img_dir, seg_dir: the image and label folders (``seg_dir`` None:
            images only, as in inference).
        img_suffix, seg_map_suffix: file endings, e.g. ``'.jpg'``, ``'.png'``.
        ann_file: optional file listing sample names (one per line, relative
            to ``img_dir``, no suffix); else every image in ``img_dir``.
        num_classes: ``K``; None skips the value check.
        reduce_zero_label: label ``0`` is ignore and ``1..K`` are the classes.
        image_read, decode_limit, name: as for :func:`check_coco`.
    """
    problems = ProblemLog(name)
    if ann_file and osp.isfile(ann_file):
        with open(ann_file) as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        names = _list_images(img_dir, img_suffix)
    result = SegCheck(problems, names)
    if not names:
        where = ann_file if ann_file and osp.isfile(ann_file) else img_dir
        result.fatal.append(f'{name}: no samples found in {where} '
                            f'(img_suffix {img_suffix!r}); check data_prefix and img_suffix')
        return result
    valid = None
    if num_classes is not None:
        valid = np.zeros(256, dtype=bool)
        valid[255] = True
        if reduce_zero_label:
            valid[0:num_classes + 1] = True
        else:
            valid[0:num_classes] = True

    decode = _decode_images(image_read, len(names), decode_limit)
    for sample in names:
        img_path = osp.join(img_dir, sample + img_suffix)
        error, hw = probe_image(img_path, decode)
        if error == 'missing':
            problems.add('image file missing', img_path)
        elif error:
            problems.add('image unreadable or corrupt', img_path, error)
        if error:
            result.bad.add(sample)
            continue
        if seg_dir is None:
            continue
        seg_path = osp.join(seg_dir, sample + seg_map_suffix)
        error, label = _read_label(seg_path)
        if error == 'missing':
            problems.add('label map missing', seg_path, f'for image {img_path}')
        elif error:
            problems.add('label map unreadable or corrupt', seg_path, error)
        elif label.ndim != 2:
            problems.add('label map is not single-channel', seg_path,
                         f'shape {tuple(label.shape)}; save class indices as a '
                         'one-channel (L or P mode) PNG')
        elif label.shape != hw:
            problems.add('image and label map sizes differ', seg_path,
                         f'label {_format_size(label.shape)}, image {_format_size(hw)}')
        elif valid is not None and (label.dtype != np.uint8 or not valid[label].all()):
            values = np.unique(label)
            bad = [int(v) for v in values if not (0 <= v < 256 and valid[int(v)])]
            if not bad:
                continue
            problems.add('label values outside the class range', seg_path,
                         f'values {bad[:8]}; {_describe_valid(num_classes, reduce_zero_label)}')
        else:
            continue
        result.bad.add(sample)
    return result


# ----------------------------------------------------------- config level
def data_check_options(cfg: Config) -> dict:
    """``cfg.data_check`` merged over :data:`DATA_CHECK_DEFAULTS`, validated."""
    given = dict(cfg.get('data_check') or {})
    unknown = sorted(set(given) - set(DATA_CHECK_DEFAULTS))
    if unknown:
        raise ConfigError(f'data_check has unknown keys {unknown}; it takes '
                          f'{sorted(DATA_CHECK_DEFAULTS)}.')
    opts = dict(DATA_CHECK_DEFAULTS, **given)
    if opts['image_read'] not in IMAGE_READ_MODES:
        raise ConfigError(f"data_check.image_read={opts['image_read']!r}; use one of "
                          f'{IMAGE_READ_MODES}.')
    return opts


def _dataset_class(scope: str, type_name):
    """The registered dataset class for ``type_name``, or None if the task
    package cannot be imported here."""
    if not isinstance(type_name, str):
        return type_name if isinstance(type_name, type) else None
    try:
        return task_registries(scope).DATASETS.get(type_name.split('.')[-1])
    except Exception:  # the check then runs with the config's values only
        return None


def _class_default(cls, arg: str, fallback):
    if cls is None:
        return fallback
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        param = inspect.signature(init).parameters.get(arg)
        if param is not None and param.default is not inspect.Parameter.empty:
            return param.default
    return fallback


def _classes(dataset: dict, cls) -> Optional[Sequence[str]]:
    metainfo = dataset.get('metainfo') or {}
    if metainfo.get('classes'):
        return list(metainfo['classes'])
    meta = getattr(cls, 'METAINFO', None) or {}
    return list(meta['classes']) if meta.get('classes') else None


def _join(root: str, path: Optional[str]) -> Optional[str]:
    if not path:
        return path
    return path if osp.isabs(path) else osp.join(root, path)


def _is_remote(*paths) -> bool:
    return any(p and '://' in str(p) for p in paths)


def _filtered_path(work_dir: str, loader: str, original: str, ext: str) -> str:
    stem = osp.splitext(osp.basename(original.rstrip('/')))[0] or 'dataset'
    folder = osp.join(work_dir, FILTERED_DIR)
    os.makedirs(folder, exist_ok=True)
    return osp.abspath(osp.join(folder, f'{loader}_{stem}{ext}'))


def _redirect_evaluators(cfg: Config, original: str, new: str) -> None:
    """Point COCO evaluators that read ``original`` at ``new``."""
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        if not evaluators:
            continue
        for ev in evaluators if isinstance(evaluators, list) else [evaluators]:
            if ev.get('ann_file') and osp.abspath(ev['ann_file']) == osp.abspath(original):
                ev['ann_file'] = new


def _check_coco_dataset(cfg, loader, dataset, cls, opts, work_dir) -> List[str]:
    root = dataset.get('data_root') or ''
    ann_file = _join(root, dataset['ann_file'])
    img_dir = _join(root, (dataset.get('data_prefix') or {}).get('img', ''))
    if _is_remote(ann_file, img_dir):
        return []
    result = check_coco(ann_file, img_dir, _classes(dataset, cls), opts['image_read'],
                        opts['decode_limit'], name=loader)
    lines = _summary(result.problems, work_dir, loader, ann_file)
    if result.fatal or (lines and not opts['skip_bad']):
        return result.fatal + lines
    if lines:
        filtered = result.filtered()
        if not filtered['images']:
            return [f'{loader}: no usable images left in {ann_file} after dropping bad '
                    'samples'] + lines
        new = _filtered_path(work_dir, loader, ann_file, '.json')
        atomic_write_text(json.dumps(filtered, separators=(',', ':')), new)
        dataset['ann_file'] = new
        _redirect_evaluators(cfg, ann_file, new)
        dropped_anns = len(result.data['annotations']) - len(filtered['annotations'])
        _warn(lines, f'{loader}: data_check.skip_bad is set, so {len(result.bad_images)} '
              f'images and {dropped_anns} annotations are left out; the dataset reads '
              f'{new} instead of {ann_file}.')
    return []


def _check_seg_dataset(cfg, loader, dataset, cls, opts, work_dir) -> List[str]:
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or {}
    img_dir = _join(root, prefix.get('img_path', ''))
    seg_dir = _join(root, prefix.get('seg_map_path')) if prefix.get('seg_map_path') else None
    ann_file = _join(root, dataset.get('ann_file') or '')
    if _is_remote(img_dir, seg_dir, ann_file):
        return []
    classes = _classes(dataset, cls)
    result = check_seg_layout(
        img_dir, seg_dir,
        img_suffix=dataset.get('img_suffix', _class_default(cls, 'img_suffix', '.jpg')),
        seg_map_suffix=dataset.get('seg_map_suffix',
                                   _class_default(cls, 'seg_map_suffix', '.png')),
        ann_file=ann_file if ann_file and osp.isfile(ann_file) else None,
        num_classes=len(classes) if classes else None,
        reduce_zero_label=dataset.get('reduce_zero_label',
                                      _class_default(cls, 'reduce_zero_label', False)),
        image_read=opts['image_read'], decode_limit=opts['decode_limit'], name=loader)
    lines = _summary(result.problems, work_dir, loader, prefix.get('img_path') or 'images')
    if result.fatal or (lines and not opts['skip_bad']):
        return result.fatal + lines
    if lines:
        good = [n for n in result.names if n not in result.bad]
        if not good:
            return [f'{loader}: no usable samples left in {img_dir} after dropping bad '
                    'samples'] + lines
        new = _filtered_path(work_dir, loader, prefix.get('img_path') or 'images', '.txt')
        atomic_write_text(''.join(n + '\n' for n in good), new)
        dataset['ann_file'] = new
        _warn(lines, f'{loader}: data_check.skip_bad is set, so {len(result.bad)} of '
              f'{len(result.names)} samples are left out; the dataset reads the sample '
              f'list {new}.')
    return []


def _summary(problems: ProblemLog, work_dir: str, loader: str, source: str) -> List[str]:
    """The problem lines; when they leave some out, all problems are written
    to a file in the work dir and a last line names it."""
    lines = problems.lines()
    if problems.total() > len(lines):
        path = _filtered_path(work_dir, loader, source, '_problems.txt')
        atomic_write_text(''.join(line + '\n' for line in problems.all_lines()), path)
        lines.append(f'{loader}: all {problems.total()} problems are listed in {path}')
    return lines


def _warn(lines: List[str], summary: str) -> None:
    for line in lines:
        print_log(line, logger='current', level=logging.WARNING)
    print_log(summary, logger='current', level=logging.WARNING)


def check_data(cfg: Config, loaders: Sequence[str]) -> None:
    """Check the content of the datasets of the given dataloaders.

    Raises :class:`DatasetError` listing one line per kind of problem, unless
    ``cfg.data_check.skip_bad`` is set; then bad samples are dropped (see the
    module docstring) and ``cfg`` is changed to read the filtered lists.
    Does nothing with ``data_check.enabled=False``.
    """
    opts = data_check_options(cfg)
    if not opts['enabled']:
        return
    scope = cfg.get('default_scope')
    work_dir = cfg.get('work_dir') or 'work_dirs'
    errors: List[str] = []
    seen = set()
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or not loader_cfg.get('dataset'):
            continue
        for dataset in leaf_datasets(loader_cfg['dataset']):
            # A test loader often shares its dataset with the val loader.
            key = (repr(dataset.get('data_root')), repr(dataset.get('ann_file')),
                   repr(dataset.get('data_prefix')))
            if key in seen:
                continue
            seen.add(key)
            cls = _dataset_class(scope, dataset.get('type'))
            type_name = dataset.get('type') if isinstance(dataset.get('type'), str) else ''
            if scope == 'mmdet' and str(dataset.get('ann_file', '')).endswith('.json') \
                    and 'Panoptic' not in type_name:
                errors += _check_coco_dataset(cfg, loader, dataset, cls, opts, work_dir)
            elif scope == 'mmseg' and (dataset.get('data_prefix') or {}).get('img_path') \
                    is not None:
                errors += _check_seg_dataset(cfg, loader, dataset, cls, opts, work_dir)
    if errors:
        raise DatasetError('\n'.join(errors + [
            'Fix the data, or leave the bad samples out with --cfg-options '
            'data_check.skip_bad=True (data_check.enabled=False turns the check off).']))
