"""Checkpoint layouts and safe loading.

Layouts a FasterNet backbone accepts (keys relative to the backbone):

* native (this package): ``patch_embed.{proj,norm}``,
  ``stages.{i}.downsample.{reduction,norm}`` for i = 1..3,
  ``stages.{i}.blocks.{j}.spatial_mixing.partial_conv3``,
  ``stages.{i}.blocks.{j}.mlp.{0,1,3}``, output norms ``norm{i}``;
* timm (``fasternet_*.in1k``): the native layout plus ``conv_head`` and
  ``classifier``;
* official release: one flat ``stages`` sequence whose even entries are
  stages and odd entries mergers (``stages.{1,3,5}.{reduction,norm}``),
  classifier ``avgpool_pre_head`` / ``head``, and in the mmdet 2.x detection
  checkpoints output norms ``norm{0,2,4,6}``.

Safe loading: every checkpoint read through mmengine's ``CheckpointLoader``
(``load_from``, ``--resume``, ``init_cfg``, the tools) uses
``torch.load(weights_only=True)`` with an allow-list of exactly the plain data
types mmengine checkpoints hold. Anything else is refused before it runs.
"""
import os
import pickle
import re

import numpy as np
import torch

from .errors import MissingFileError, UnsafeCheckpointError

_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_method(owner, name: str):
    """Stand-in for ``getattr`` while unpickling: mmengine's ``HistoryBuffer``
    pickles its statistics table as ``getattr(HistoryBuffer, 'min')`` and so
    on. Only those four lookups are served; any other use of ``getattr`` in a
    checkpoint is refused, so it cannot reach arbitrary attributes."""
    from mmengine.logging.history_buffer import HistoryBuffer
    if owner is HistoryBuffer and name in _HISTORY_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported GLOBAL builtins.getattr (asked for {name!r} of {owner!r})')


def _safe_globals() -> list:
    """Exactly the non-tensor objects that mmengine 0.10 checkpoints pickle:
    its logging history buffers (numpy arrays and their statistics methods
    inside) and numpy scalars in metadata."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtypes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64, np.float16, np.float32, np.float64)]
    return [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype, *dtypes,
            (_history_buffer_method, 'builtins.getattr')]


def safe_torch_load(filename: str, map_location=None):
    """``torch.load`` with ``weights_only=True`` and mmengine's data types
    allowed; anything else raises :class:`UnsafeCheckpointError` unexecuted."""
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL ([\w.]+)', str(err))
        what = f'the pickled object {found.group(1)}' if found else 'a pickled object'
        raise UnsafeCheckpointError(
            f'Refused to load {filename}: it holds {what}, which safe loading does not '
            'allow (only tensors, plain containers, numpy data and mmengine log buffers); '
            'nothing in it was executed. Re-save just its weights from a trusted copy, e.g. '
            "torch.save({'state_dict': model.state_dict()}, path).") from None


def load_local(filename: str, map_location=None):
    """mmengine's local-file checkpoint loader, through :func:`safe_torch_load`."""
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise MissingFileError(f'Checkpoint file {filename} does not exist; check the path.')
    return safe_torch_load(filename, map_location)


def load_http(filename: str, map_location=None, model_dir=None, progress: bool = True):
    """mmengine's http(s) checkpoint loader, through :func:`safe_torch_load`.

    As in mmengine, rank 0 downloads into the cache while the other ranks
    wait at a barrier, then every rank reads the cached file.
    """
    from mmengine.dist import barrier, get_dist_info
    from torch.hub import download_url_to_file, get_dir
    model_dir = model_dir or os.path.join(get_dir(), 'checkpoints')
    cached = os.path.join(model_dir, os.path.basename(filename.split('?')[0]))
    rank, world_size = get_dist_info()
    if rank == 0 and not os.path.exists(cached):
        os.makedirs(model_dir, exist_ok=True)
        download_url_to_file(filename, cached, progress=progress)
    if world_size > 1:
        barrier()
    return safe_torch_load(cached, map_location)
