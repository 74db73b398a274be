"""Checks of a semantic segmentation folder in the ADE20K layout (mmseg
``BaseSegDataset`` and subclasses).

Images are under ``data_prefix.img_path`` with ``img_suffix``, label maps
under ``data_prefix.seg_map_path`` with ``seg_map_suffix``, optionally with
a list of names in ``ann_file``. Every image has a label map, both decode,
the label map has one channel and the image's size, and its values are
classes or ignore: ``1..K`` plus ``0`` and ``255`` with ``reduce_zero_label``,
``0..K-1`` plus ``255`` without. Label maps are always decoded, since their
values are checked.
"""
import os
import os.path as osp
from itertools import chain
from typing import List, Optional, Sequence, Set

import numpy as np

from .cache import CheckCache, file_stamp
from .images import decode_all, probe_image, read_label
from .parallel import chunked_map
from .report import ProblemLog, format_size


class SegCheck:
    """Result of :func:`check_seg_layout`: ``problems``, the sample ``names``
    (image paths relative to the image folder, without suffix) in the
    order the dataset reads them, the ``bad`` ones among them, how many
    samples were read this time (``checked_samples``; the others' results
    came from the cache) and whether the cache ``changed``."""

    def __init__(self, problems: ProblemLog, names: List[str]):
        self.problems = problems
        self.names = names
        self.bad: Set[str] = set()
        self.fatal: List[str] = []
        self.checked_samples = 0
        self.changed = True


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
                     name: str = 'dataset', workers: int = 1,
                     cache: Optional[CheckCache] = None) -> SegCheck:
    """Check an image folder and its label-map folder (ADE20K layout).

    Args:
        img_dir, seg_dir: the image and label folders (``seg_dir`` None:
            images only, as in inference).
        img_suffix, seg_map_suffix: file endings, e.g. ``'.jpg'``, ``'.png'``.
        ann_file: optional file listing sample names (one per line, relative
            to ``img_dir``, no suffix); else every image in ``img_dir``.
        num_classes: ``K``; None skips the value check.
        reduce_zero_label: label ``0`` is ignore and ``1..K`` are the classes.
        image_read, decode_limit, name, workers, cache: as for
            :func:`.coco.check_coco`; the cache holds each sample's problem
            with the stamps of its image and label map.
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
    context = dict(img_dir=img_dir, seg_dir=seg_dir, img_suffix=img_suffix,
                   seg_map_suffix=seg_map_suffix, decode=decode_all(image_read, len(names),
                                                                  decode_limit),
                   valid=valid, num_classes=num_classes, reduce_zero_label=reduce_zero_label)
    files = cache.section('samples') if cache is not None else {}
    remembered = files.get('files') or {}
    remember, found = {}, [None] * len(names)
    todo, stamps = [], []
    for k, sample in enumerate(names):
        stamp = _sample_stamp(sample, context)
        seen = remembered.get(sample)
        if seen is not None and seen[0] == stamp:
            found[k] = seen[1]
            remember[sample] = seen
        else:
            todo.append(k)
            stamps.append(stamp)
    checked = chunked_map(_check_samples, [names[k] for k in todo], workers, chunk_size=200,
                          shared=context)
    for k, stamp, problem in zip(todo, stamps, chain.from_iterable(checked)):
        found[k] = problem
        remember[names[k]] = [stamp, problem]
    result.changed = bool(todo) or len(remember) != len(remembered)
    files['files'] = remember
    result.checked_samples = len(todo)
    for sample, problem in zip(names, found):
        if problem:
            problems.add(*problem)
            result.bad.add(sample)
    return result


def _sample_stamp(sample: str, context: dict) -> list:
    stamps = [file_stamp(osp.join(context['img_dir'], sample + context['img_suffix']))]
    if context['seg_dir'] is not None:
        stamps.append(file_stamp(osp.join(context['seg_dir'],
                                          sample + context['seg_map_suffix'])))
    return stamps


def _labels_valid(label: np.ndarray, context: dict) -> bool:
    valid = context['valid']
    if label.dtype == np.uint8:
        top = context['num_classes'] - (0 if context['reduce_zero_label'] else 1)
        if label.max() <= top:  # the usual case, without indexing every pixel
            return True
        return bool(valid[label].all())
    return False


def _check_samples(names: Sequence[str], start: int, stop: int, context: dict) -> list:
    return [_sample_problem(sample, context) for sample in names[start:stop]]


def _sample_problem(sample: str, context: dict) -> Optional[list]:
    """``[kind, where, detail]`` of one sample's problem, or None."""
    img_path = osp.join(context['img_dir'], sample + context['img_suffix'])
    error, hw = probe_image(img_path, context['decode'])
    if error == 'missing':
        return ['image file missing', img_path, '']
    if error:
        return ['image unreadable or corrupt', img_path, error]
    if context['seg_dir'] is None:
        return None
    seg_path = osp.join(context['seg_dir'], sample + context['seg_map_suffix'])
    error, label = read_label(seg_path)
    if error == 'missing':
        return ['label map missing', seg_path, f'for image {img_path}']
    if error:
        return ['label map unreadable or corrupt', seg_path, error]
    if label.ndim != 2:
        return ['label map is not single-channel', seg_path,
                f'shape {tuple(label.shape)}; save class indices as a one-channel (L or P '
                'mode) PNG']
    if label.shape != hw:
        return ['image and label map sizes differ', seg_path,
                f'label {format_size(label.shape)}, image {format_size(hw)}']
    if context['valid'] is None or _labels_valid(label, context):
        return None
    valid = context['valid']
    bad = [int(v) for v in np.unique(label) if not (0 <= v < 256 and valid[int(v)])]
    if not bad:
        return None
    return ['label values outside the class range', seg_path,
            f'values {bad[:8]}; '
            f'{_describe_valid(context["num_classes"], context["reduce_zero_label"])}']
