"""``LoadImageFromFileOrSkip``: mmcv's image loader for training pipelines
that returns None for an image that can no longer be read (missing,
truncated, undecodable), so that mmengine's dataset draws another sample.

Each such image and the reason go to a record file of the training process
(``record_path``; data workers write to their parent's), which
``UnreadableImageHook`` reads to warn, count and stop after too many.
"""
import logging
import os
import os.path as osp
import tempfile
from typing import Optional

import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS

from ...utils.fileio import is_local
from ..datacheck.images import truncation


def record_path(pid: Optional[int] = None) -> str:
    """The record of skipped images of the training process ``pid`` (this
    one by default): dataloader workers write to their parent's."""
    return osp.join(tempfile.gettempdir(), f'fasternet_dense_unreadable_{pid or os.getpid()}.txt')


def _training_process() -> int:
    """The pid of the training process this code serves: the parent of a
    dataloader worker, else this process."""
    return os.getppid() if torch.utils.data.get_worker_info() is not None else os.getpid()


def note_unreadable(path: str, reason: str) -> None:
    """Record a skipped image for the hook, or warn when no hook listens."""
    record = record_path(_training_process())
    line = ' '.join(f'{path}\t{reason}'.split('\n'))
    if osp.isfile(record):
        with open(record, 'a') as f:  # one short append per line
            f.write(line + '\n')
        return
    print_log(f'skipped an unreadable image, another sample is drawn instead: {path} '
              f'({reason})', logger='current', level=logging.WARNING)


@TRANSFORMS.register_module()
class LoadImageFromFileOrSkip(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that gives ``None`` (the dataset then
    draws another sample) for an image it cannot read, and records it.
    For training pipelines; takes ``LoadImageFromFile``'s arguments."""

    def transform(self, results: dict) -> Optional[dict]:
        path = results['img_path']
        try:
            reason = None if not is_local(path) else truncation(path)
            if reason is None:
                loaded = super().transform(results)
                if loaded is not None:
                    return loaded
                reason = 'could not be read'  # ignore_empty=True hides why
        except Exception as err:  # what reading or decoding raised
            reason = f'{type(err).__name__}: {err}'
        note_unreadable(path, reason)
        return None


__all__ = ['LoadImageFromFileOrSkip', 'record_path']
