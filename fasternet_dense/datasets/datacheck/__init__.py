"""Content checks of training data, run before the model is built.

A broken image or annotation otherwise surfaces as a traceback from a
dataloader worker hours into a run. :func:`check_data` reads every sample a
config's dataloaders name and reports each kind of problem once, with the
first file it was found in and how many more there are.

* :mod:`.check`: :func:`check_data`, the ``data_check`` config options and
  which datasets are checked how; :func:`check_data_once`, on rank 0 alone
  in a distributed launch.
* :mod:`.cache`: what a check found, kept in the work dir, so that a
  relaunch reads only the files that changed.
* :mod:`.parallel`: checking on all cores.
* :mod:`.coco`: COCO-format detection / instance segmentation.
* :mod:`.seg`: semantic segmentation folders in the ADE20K layout.
* :mod:`.images`: reading images (``image_read``) and label maps.
* :mod:`.report`: :class:`ProblemLog` and the summary and warning lines;
  when there are more problems than lines, all of them are listed in
  ``<work_dir>/data_check/<loader>_<name>_problems.txt``.
* :mod:`.skip`: ``data_check.skip_bad=True``, which drops bad samples with
  a warning instead of stopping and points the config at the filtered files.
"""
from .check import (
    DATA_CHECK_DEFAULTS, check_data, check_data_once, data_check_options)
from .cache import CheckCache
from .coco import CocoCheck, check_coco
from .images import IMAGE_READ_MODES, probe_image
from .report import ProblemLog
from .seg import SegCheck, check_seg_layout

__all__ = ['DATA_CHECK_DEFAULTS', 'IMAGE_READ_MODES', 'CheckCache', 'CocoCheck', 'ProblemLog',
           'SegCheck', 'check_coco', 'check_data', 'check_data_once', 'check_seg_layout',
           'data_check_options', 'probe_image']
