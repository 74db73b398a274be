"""Checks of a COCO-format annotation file and the images it names (mmdet
``CocoDataset`` and subclasses with a ``.json`` ``ann_file``).

The file is JSON with ``images``, ``annotations`` and ``categories``; the
config's classes are categories; image ids and annotation ids are unique;
annotations name known images and categories; boxes are 4 numbers with
positive size inside the image (1 px tolerance for rounding); polygons have
>= 3 points and a non-zero area; RLE masks have the image's size; images
exist, decode and have the size their entry states.
"""
import gc
import json
import math
import os
import os.path as osp
from contextlib import contextmanager
from itertools import chain
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy as np
import orjson

from ...utils.errors import DatasetError
from .cache import CheckCache, file_stamp
from .images import decode_all, probe_image
from .parallel import ForkedCall, chunked_map, keep_until_exit
from .report import ProblemLog, format_size

# Boxes may reach this far (px) past the border: COCO boxes are rounded.
BOX_TOLERANCE = 1.0
_NUMBER_TYPES = {int, float}
# Annotation files from this size (bytes) are parsed in a child process.
FORK_ABOVE = 4 << 20
# Annotations per task of the parallel pass.
ANNOTATION_CHUNK = 20000


@contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class CocoCheck:
    """Result of :func:`check_coco`.

    Attributes:
        problems: the :class:`ProblemLog`.
        data: the parsed annotation file (read again on first use when the
            result came from the cache).
        bad_images: indices into ``data['images']`` to drop.
        bad_annotations: indices into ``data['annotations']`` to drop.
        fatal: problems that dropping samples cannot fix.
        num_images: the image entries whose files were checked.
        checked_images: how many of those files were read this time (the
            others' results came from the cache).
        from_cache: whether the annotation file's results came from the
            cache (it was unchanged).
        changed: whether the cache was changed (and should be saved).
    """

    def __init__(self, problems: ProblemLog, ann_file: str, data: Optional[dict] = None):
        self.problems = problems
        self.ann_file = ann_file
        self._data = data
        self.bad_images: Set[int] = set()
        self.bad_annotations: Set[int] = set()
        self.fatal: List[str] = []
        self.num_images = 0
        self.checked_images = 0
        self.from_cache = False
        self.changed = True

    @property
    def data(self) -> dict:
        if self._data is None:
            self._data = load_coco_json(self.ann_file)
        return self._data

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


def load_coco_json(ann_file: str) -> dict:
    """Parse a COCO annotation file and check its top level.

    orjson parses it, with the cyclic garbage collector paused: a file of
    COCO train's size holds millions of new lists, which a running collector
    walks again and again (docs/fault-tolerance.md gives the times). Files
    that orjson refuses are read again by the standard library, which also
    takes ``NaN`` and ``Infinity``.
    """
    try:
        with open(ann_file, 'rb') as f, _collector_paused():
            text = f.read()
            try:
                data = orjson.loads(text)
            except ValueError:  # NaN and Infinity, which Python's json writes and reads
                data = json.loads(text)
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


def _duplicates(annotations: list) -> Set[int]:
    """Indices of annotations whose id an earlier annotation has."""
    seen, repeated = set(), set()
    for i, ann in enumerate(annotations):
        if type(ann) is dict and 'id' in ann:
            if ann['id'] in seen:
                repeated.add(i)
            else:
                seen.add(ann['id'])
    return repeated


def _numbers_only(values: list) -> bool:
    return set(map(type, values)) <= _NUMBER_TYPES


def _needs_full_check(annotations: list, start: int, stop: int, shared) -> List[int]:
    """The indices in ``[start, stop)`` that :func:`_annotation_problem` must
    look at: all but those a vectorised pass finds fine for certain.

    Whatever this passes has no problem :func:`_annotation_problem` could
    find (known image and category, four finite numbers with positive size
    inside the image, polygons of >= 3 finite points and clearly non-zero
    area, not a repeated id); anything unusual (RLE, odd polygons, other
    types) is left to it.
    """
    sizes, cat_ids, repeated = shared
    full, rows, sides, boxes, polygons, polygon_rows = [], [], [], [], [], []
    for i in range(start, stop):
        ann = annotations[i]
        if type(ann) is not dict or i in repeated:
            full.append(i)
            continue
        size = sizes.get(ann.get('image_id'))
        bbox = ann.get('bbox')
        seg = ann.get('segmentation')
        if (size is None or ann.get('category_id') not in cat_ids or type(bbox) is not list
                or len(bbox) != 4 or not (seg is None or type(seg) is list)):
            full.append(i)
            continue
        polygon_rows.extend([len(rows)] * len(seg or ()))
        rows.append(i)
        sides.append(size)
        boxes.extend(bbox)
        polygons.extend(seg or ())
    if not rows:
        return full
    coords = list(chain.from_iterable(polygons)) if set(map(type, polygons)) <= {list} else None
    lengths = np.fromiter(map(len, polygons), np.int64, len(polygons))
    if (not _numbers_only(boxes) or coords is None or not _numbers_only(coords)
            or (lengths % 2).any() or (lengths < 6).any()):
        return sorted(full + rows)  # the full check finds what it is
    box = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    wh = np.array(sides, dtype=np.float64)
    x, y, w, h = box.T
    ok = (np.isfinite(box).all(1) & (w > 0) & (h > 0) & (x >= -BOX_TOLERANCE)
          & (y >= -BOX_TOLERANCE) & (x + w <= wh[:, 0] + BOX_TOLERANCE)
          & (y + h <= wh[:, 1] + BOX_TOLERANCE))
    if polygons:
        xy = np.array(coords, dtype=np.float64).reshape(-1, 2)
        points = lengths // 2
        ends = np.cumsum(points)
        starts = ends - points
        following = np.arange(1, len(xy) + 1)
        following[ends - 1] = starts
        with np.errstate(invalid='ignore', over='ignore'):
            cross = xy[:, 0] * xy[following, 1] - xy[following, 0] * xy[:, 1]
            area = 0.5 * np.abs(np.add.reduceat(cross, starts))
        finite = np.logical_and.reduceat(np.isfinite(xy).all(1), starts)
        # Well above the full check's 1e-6, so rounding cannot pass a bad one.
        ok[np.asarray(polygon_rows)[~(finite & (area > 1e-3))]] = False
    return sorted(full + [rows[j] for j in np.flatnonzero(~ok)])


def _annotation_problem(i: int, ann, images: dict, cat_ids: set, repeated: bool,
                        ann_name: str) -> Optional[Tuple[str, str, str]]:
    """``(kind, where, detail)`` of annotation ``i``'s problem, or None."""
    where = f'{ann_name} annotations[{i}]'
    if not isinstance(ann, dict):
        return 'malformed annotation', where, 'not an object'
    if 'id' in ann:
        where = f'{ann_name} annotation id {ann["id"]}'
        if repeated:
            return 'duplicate annotation id', where, ''
    entry = images.get(ann.get('image_id'))
    if entry is None:
        return 'annotation for an unknown image id', where, f'image_id {ann.get("image_id")!r}'
    im = entry[1]
    where += f' (image {im["file_name"]})'
    if ann.get('category_id') not in cat_ids:
        return ('annotation with an unknown category id', where,
                f'category_id {ann.get("category_id")!r}, known {sorted(cat_ids)[:10]}')
    bbox = ann.get('bbox')
    if not _number_list(bbox, 4) or bbox[2] <= 0 or bbox[3] <= 0:
        return 'malformed box', where, f'bbox {bbox!r}, needs [x, y, w, h] with w, h > 0'
    x, y, w, h = bbox
    width, height = im['width'], im['height']
    if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + w > width + BOX_TOLERANCE
            or y + h > height + BOX_TOLERANCE):
        return ('box outside the image', where,
                f'bbox [x, y, w, h] = {list(bbox)} in a {width}x{height} image')
    seg_problem = _segmentation_problem(ann.get('segmentation'), (height, width))
    if seg_problem:
        return seg_problem[0], where, seg_problem[1]
    return None


def check_annotation_file(data: dict, ann_name: str, classes: Optional[Sequence[str]],
                          name: str, workers: int = 1) -> dict:
    """Everything of a COCO file's check that depends on the file alone.

    Returns:
        A JSON-ready summary: ``fatal`` lines; ``entry_problems`` and
        ``annotation_problems`` as ``[kind, where, detail]``; ``bad_entries``
        and ``bad_annotations`` (indices); ``images`` to read, as
        ``[index, file_name, height, width]``.
    """
    fatal = []
    cat_ids = {c['id'] for c in data['categories']}
    if classes is not None:
        names = {c['name'] for c in data['categories']}
        absent = [c for c in classes if c not in names]
        if absent:
            fatal.append(f'{name}: classes {absent} of the config are not categories of '
                         f'{ann_name} (its categories: {sorted(names)[:10]}); set '
                         'metainfo=dict(classes=...) in the dataset config to category names')
    entry_problems, bad_entries = [], []
    images: Dict[object, Tuple[int, dict]] = {}
    for i, im in enumerate(data['images']):
        if (not isinstance(im, dict)
                or any(k not in im for k in ('id', 'file_name', 'width', 'height'))
                or not _number_list([im['width'], im['height']])
                or min(im['width'], im['height']) <= 0):
            entry_problems.append(['malformed image entry', f'{ann_name} images[{i}]',
                                   'needs id, file_name and positive width and height'])
            bad_entries.append(i)
        elif im['id'] in images:
            entry_problems.append(['duplicate image id', f'{ann_name} images[{i}]',
                                   f'id {im["id"]}'])
            bad_entries.append(i)
        else:
            images[im['id']] = (i, im)

    annotations = data['annotations']
    repeated = _duplicates(annotations)
    sizes = {img_id: (im['width'], im['height']) for img_id, (_, im) in images.items()}
    suspects = chain.from_iterable(chunked_map(
        _needs_full_check, annotations, workers, chunk_size=ANNOTATION_CHUNK,
        shared=(sizes, cat_ids, repeated)))
    annotation_problems, bad_annotations = [], []
    for i in suspects:
        problem = _annotation_problem(i, annotations[i], images, cat_ids, i in repeated,
                                      ann_name)
        if problem:
            annotation_problems.append(list(problem))
            bad_annotations.append(i)
    return dict(fatal=fatal, entry_problems=entry_problems,
                annotation_problems=annotation_problems, bad_entries=bad_entries,
                bad_annotations=bad_annotations,
                images=[[i, im['file_name'], im['height'], im['width']]
                        for i, im in images.values()])


def _annotation_summary(ann_file: str, classes, name: str, workers: int) -> dict:
    data = load_coco_json(ann_file)
    keep_until_exit(data)
    return check_annotation_file(data, ann_file, classes, name, workers)


class ProbeRecord(NamedTuple):
    """What is remembered of a probed image, keyed by its path (stored in
    the cache file as a list of these fields, in this order)."""
    size: int
    mtime_ns: int
    decoded: bool
    error: Optional[str]
    height: int
    width: int

    @classmethod
    def of(cls, stamp: List[int], decoded: bool, error: Optional[str], hw) -> list:
        """A record as the cache keeps it (a plain list)."""
        return list(cls(*stamp, decoded, error, *(hw or (0, 0))))

    def answers(self, stamp: List[int], decode: bool) -> bool:
        """Whether this record answers for the file now: the same stamp,
        and a full decode when one is asked for."""
        return [self.size, self.mtime_ns] == list(stamp) and (self.decoded or not decode)


def _answers(seen: Optional[list], stamp: List[int], decode: bool) -> bool:
    """Whether a remembered record (a list from the cache, or None) answers
    for the file now."""
    return bool(seen) and ProbeRecord(*seen).answers(stamp, decode)


def _probe_while_waiting(img_dir: str, job: ForkedCall, image_read: str, decode_limit: int,
                         remembered: dict) -> dict:
    """Probe the files of ``img_dir`` while ``job`` (the annotation file's
    check) runs, until it is done: ``path -> ProbeRecord`` fields (a list)
    for files not already in ``remembered``."""
    try:
        with os.scandir(img_dir) as entries:
            paths = [entry.path for entry in entries if entry.is_file()]
    except OSError:
        return {}
    paths.sort()
    # The annotation file decides; the folder's size is the guess until then.
    decode = decode_all(image_read, len(paths), decode_limit)
    found = {}
    for start in range(0, len(paths), 64):
        if job.ready():
            break
        for path in paths[start:start + 64]:
            stamp = file_stamp(path)
            if stamp is None or _answers(remembered.get(path), stamp, decode):
                continue
            found[path] = ProbeRecord.of(stamp, decode, *probe_image(path, decode))
    return found


def _probe_files(paths: Sequence[str], start: int, stop: int, decode: bool) -> list:
    return [probe_image(path, decode) for path in paths[start:stop]]


def probe_images(paths: Sequence[str], decode: bool, workers: int,
                 remembered: Optional[dict] = None,
                 fresh: Sequence[str] = ()) -> Tuple[list, dict, int]:
    """:func:`probe_image` of each path, reusing ``remembered`` results of
    files whose stamp is unchanged (a full decode also answers a header
    check, not the other way round).

    Returns:
        ``(results, remember, read)``: the ``(error, hw)`` per path, what
        to remember for next time (``path ->`` :class:`ProbeRecord` fields,
        a list) and how many files were read, here or
        just before (the ``fresh`` ones of ``remembered``).
    """
    remembered = remembered or {}
    results: list = [None] * len(paths)
    remember: dict = {}
    todo, stamps = [], []
    fresh = set(fresh)
    read = 0
    for k, path in enumerate(paths):
        stamp = file_stamp(path)
        if stamp is None:
            results[k] = ('missing', None)
            continue
        seen = remembered.get(path)
        if _answers(seen, stamp, decode):
            record = ProbeRecord(*seen)
            results[k] = (record.error,
                          None if record.error else (record.height, record.width))
            remember[path] = seen
            read += path in fresh
        else:
            todo.append(k)
            stamps.append(stamp)
    probed = chunked_map(_probe_files, [paths[k] for k in todo], workers, chunk_size=500,
                         shared=decode)
    for k, stamp, (error, hw) in zip(todo, stamps, chain.from_iterable(probed)):
        results[k] = (error, hw)
        remember[paths[k]] = ProbeRecord.of(stamp, decode, error, hw)
    return results, remember, read + len(todo)


def check_coco(ann_file: str, img_dir: str, classes: Optional[Sequence[str]] = None,
               image_read: str = 'auto', decode_limit: int = 2000,
               name: str = 'dataset', workers: int = 1,
               cache: Optional[CheckCache] = None) -> CocoCheck:
    """Check a COCO annotation file and the images it names.

    Args:
        ann_file: the ``instances_*.json`` path.
        img_dir: the folder ``file_name`` is relative to.
        classes: the classes the dataset will use (``metainfo.classes``);
            each must be a category name. None skips this check.
        image_read: ``'auto'``, ``'decode'`` or ``'header'`` (:mod:`.images`).
        decode_limit: the most images ``'auto'`` decodes fully.
        name: prefix of the problem lines (e.g. ``train_dataloader``).
        workers: processes to check with (1: this one).
        cache: results of an earlier check to reuse where the annotation
            file or an image is unchanged; updated (not saved) here.

    Raises:
        DatasetError: if the file is not JSON or not COCO-shaped.
    """
    stamp = file_stamp(ann_file)
    remembered = cache.section('annotations') if cache is not None else {}
    images = cache.section('images') if cache is not None else {}
    known = dict(images.get('files') or {})
    from_cache = stamp is not None and remembered.get('stamp') == stamp
    early = {}
    if from_cache:
        summary = remembered['summary']
    else:
        job = ForkedCall(_annotation_summary, ann_file, classes, name, workers,
                         fork=workers > 1 and stamp is not None and stamp[0] >= FORK_ABOVE)
        early = _probe_while_waiting(img_dir, job, image_read, decode_limit, known)
        known.update(early)
        summary = job.result()
        remembered.update(stamp=stamp, summary=summary)
    result = CocoCheck(ProblemLog(name), ann_file)
    result.from_cache = from_cache
    result.fatal = list(summary['fatal'])
    result.bad_images = set(summary['bad_entries'])
    result.bad_annotations = set(summary['bad_annotations'])
    problems = result.problems
    for kind, where, detail in summary['entry_problems']:
        problems.add(kind, where, detail)

    entries = summary['images']
    result.num_images = len(entries)
    paths = [osp.join(img_dir, file_name) for _, file_name, _, _ in entries]
    decode = decode_all(image_read, len(entries), decode_limit)
    probes, remember, result.checked_images = probe_images(paths, decode, workers, known, early)
    result.changed = (not from_cache or result.checked_images > 0
                      or len(remember) != len(images.get('files') or {}))
    images['files'] = remember
    for (i, _, height, width), path, (error, hw) in zip(entries, paths, probes):
        if error == 'missing':
            problems.add('image file missing', path)
        elif error:
            problems.add('image unreadable or corrupt', path, error)
        elif tuple(hw) != (height, width):
            problems.add('image size differs from its annotation entry', path,
                         f'file is {format_size(hw)}, entry says {width}x{height}')
        else:
            continue
        result.bad_images.add(i)
    for kind, where, detail in summary['annotation_problems']:
        problems.add(kind, where, detail)
    return result
