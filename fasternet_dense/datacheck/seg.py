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
from typing import List, Optional, Set

import numpy as np

from .images import decode_all, probe_image, read_label
from .report import ProblemLog, format_size


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
        image_read, decode_limit, name: as for :func:`.coco.check_coco`.
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

    decode = decode_all(image_read, len(names), decode_limit)
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
        error, label = read_label(seg_path)
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
                         f'label {format_size(label.shape)}, image {format_size(hw)}')
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
