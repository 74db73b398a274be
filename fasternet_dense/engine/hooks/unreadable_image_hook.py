"""Go on training past an image that cannot be read any more, up to a limit.

The data check at launch reads every image; one that breaks later (a file
overwritten or truncated mid-run, a failing disk) would otherwise end a
day-long run with a traceback from a dataloader worker. Two parts, both
switched on in a config (the project's configs do):

* ``LoadImageFromFileOrSkip`` in the *training* pipeline, in place of
  mmcv's ``LoadImageFromFile`` (same arguments). An image that is missing,
  truncated (no JPEG end marker or PNG ``IEND``) or does not decode gives
  ``None``, and mmengine's dataset draws another sample in its place (its
  ``max_refetch``); the file and the reason are written to this training
  process's record (:func:`record_path`). Evaluation pipelines keep
  ``LoadImageFromFile``: a test image is never skipped.
* ``UnreadableImageHook`` reads the record after every iteration, logs a
  warning for each unreadable image the first time it is met, with the
  count so far, and stops the run once more than ``max_skips`` images could
  not be read (counted once each per rank, summed over the ranks; every
  rank stops at the same iteration), naming them and writing the whole list
  to ``<log_dir>/unreadable_images.txt``. ``max_skips`` comes from the
  hook's argument, else from the config's ``unreadable_images.max_skips``
  (default 100): ``--cfg-options unreadable_images.max_skips=N``.

Without the hook the transform still skips, with a warning per image from
the process that met it.
"""
import os
import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmengine.dist import all_reduce, get_rank, is_distributed
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...datasets.transforms.loading import record_path
from ...utils.errors import UnreadableImagesError
from ...utils.fileio import atomic_write_text
from ..runner.checkpoints import intact_last_checkpoint

DEFAULT_MAX_SKIPS = 100


LIST_NAME = 'unreadable_images.txt'


def _read_record(path: str, offset: int) -> Tuple[List[Tuple[str, str]], int]:
    """The complete lines of ``path`` after ``offset`` as ``(file, reason)``,
    and the offset after them."""
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    complete = data[:data.rfind(b'\n') + 1]
    found = []
    for line in complete.decode('utf-8', 'replace').splitlines():
        file, _, reason = line.partition('\t')
        found.append((file, reason))
    return found, offset + len(complete)


@HOOKS.register_module()
class UnreadableImageHook(Hook):
    """Count the images ``LoadImageFromFileOrSkip`` skipped and stop after
    more than ``max_skips`` (see the module docstring).

    Args:
        max_skips: skipped images to allow in one run; None reads
            ``unreadable_images.max_skips`` from the config (default 100).

    Attributes:
        skipped: ``(file, reason)`` of each image this process skipped, in
            the order first met (an image met again is skipped again but
            counted once).
        skips: how many samples were skipped in all.
    """

    # Before the checkpoint hook: a stopping iteration writes no checkpoint.
    priority = 'ABOVE_NORMAL'

    def __init__(self, max_skips: Optional[int] = None):
        if max_skips is not None and max_skips < 0:
            raise ValueError(f'UnreadableImageHook: max_skips must be >= 0; got {max_skips}.')
        self.max_skips = max_skips
        self.skipped: List[Tuple[str, str]] = []
        self.skips = 0
        self._seen = set()
        self._record = record_path()
        self._offset = 0

    def before_train(self, runner) -> None:
        if self.max_skips is None:
            options = runner.cfg.get('unreadable_images') or {}
            self.max_skips = int(options.get('max_skips', DEFAULT_MAX_SKIPS))
        # Workers may have started; they look for the record when they skip.
        with open(self._record, 'w'):
            pass
        self._offset = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        new, self._offset = _read_record(self._record, self._offset)
        for file, reason in new:
            self.skips += 1
            if file in self._seen:
                continue  # met again: skipped again, not counted again
            self._seen.add(file)
            self.skipped.append((file, reason))
            runner.logger.warning(
                f'UnreadableImageHook: skipped unreadable image {file} ({reason}); another '
                f'sample was drawn instead ({len(self.skipped)} such images on rank '
                f'{get_rank()}; the run stops after {self.max_skips}).')
        total = len(self.skipped)
        if is_distributed():
            count = torch.tensor([total], dtype=torch.float64)
            if torch.cuda.is_available() and torch.distributed.get_backend() == 'nccl':
                count = count.cuda()
            all_reduce(count)
            total = int(count.item())
        if total > self.max_skips:
            message = self._message(runner, total)
            self.after_train(runner)
            raise UnreadableImagesError(message)

    def _message(self, runner, total: int) -> str:
        listing = osp.join(runner.log_dir, LIST_NAME if get_rank() == 0 else
                           f'unreadable_images_rank{get_rank()}.txt')
        atomic_write_text(''.join(f'{f}\t{r}\n' for f, r in self.skipped), listing)
        shown = ', '.join(f'{f} ({r})' for f, r in self.skipped[:3])
        more = f' and {len(self.skipped) - 3} more' if len(self.skipped) > 3 else ''
        last = intact_last_checkpoint(runner.work_dir)
        kept = (f'the last checkpoint, {osp.basename(last)}, is intact; replace or remove '
                'these files and continue with --resume (the data check at launch reads '
                'changed files again)') if last else (
                'no checkpoint was written before it; replace or remove these files')
        if not self.skipped:
            here = ''
        elif is_distributed():
            here = f'; on rank {get_rank()}: {shown}{more}'
        else:
            here = f': {shown}{more}'
        return (f'Training stopped at iteration {runner.iter + 1}: {total} images could not '
                f'be read (more than unreadable_images.max_skips={self.max_skips}){here}; '
                f'listed in {listing}; {kept}; or allow more with --cfg-options '
                'unreadable_images.max_skips=N.')

    def after_train(self, runner) -> None:
        try:
            os.remove(self._record)
        except OSError:
            pass


__all__ = ['UnreadableImageHook']
