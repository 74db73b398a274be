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

Plain checkpoints: ``CrashSafeRunner`` writes its checkpoints in types that
torch's default ``weights_only`` loader reads with no allow-list
(:func:`to_plain`), so that mmengine's, mmdet's and mmseg's own entry points
(``DetInferencer``, ``MMSegInferencer``, a plain ``torch.load``) open them in
a process that never imported this package. mmengine's log buffers and numpy
data become tagged dicts of Python numbers, which :func:`from_plain` turns
back into equal objects when the runner loads the file.
"""
import os
import pickle
import re
from collections import Counter, OrderedDict
from typing import Any, Callable, List, Tuple

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


def load_from_local(filename: str, map_location=None):
    """mmengine's local-file checkpoint loader, through :func:`safe_torch_load`.

    Named as mmengine names its loaders: ``CheckpointLoader`` logs
    "Loads checkpoint by local backend" from the name after ``load_from_``.
    """
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise MissingFileError(f'Checkpoint file {filename} does not exist; check the path.')
    return safe_torch_load(filename, map_location)


def load_from_http(filename: str, map_location=None, model_dir=None, progress: bool = True):
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


# ------------------------------------------------------------ plain checkpoints
# The key that marks a dict standing for an object torch's weights_only loader
# refuses; its value names the type.
PLAIN_TAG = '__type__'
_BUFFER, _ARRAY, _SCALAR = 'mmengine.HistoryBuffer', 'numpy.ndarray', 'numpy.generic'
_FIELDS = {
    _BUFFER: {PLAIN_TAG, 'log_history', 'count_history', 'log_dtype', 'count_dtype',
              'max_length'},
    _ARRAY: {PLAIN_TAG, 'dtype', 'shape', 'data'},
    _SCALAR: {PLAIN_TAG, 'dtype', 'value'},
}
# numpy dtype kinds whose values are Python bools, ints, floats, complex
# numbers, str or bytes after ``tolist()`` / ``item()``, and come back exactly.
_NUMPY_KINDS = set('biufcUS')
# Leaves torch's weights_only loader takes without an allow-list.
_PLAIN_LEAVES = (type(None), bool, int, float, complex, str, bytes, bytearray, torch.Size,
                 torch.dtype, torch.device)
_PLAIN_CONTAINERS = (dict, OrderedDict, Counter, list, tuple, set)


def _rebuild(obj, items: list):
    """A container of ``obj``'s type holding ``items`` (key-value pairs for
    dicts); an ``OrderedDict`` keeps its ``_metadata`` (module versions in a
    ``state_dict``)."""
    if isinstance(obj, dict):
        out = type(obj)()
        for key, value in items:  # item by item: Counter(pairs) would count them
            out[key] = value
        if hasattr(obj, '_metadata'):
            out._metadata = obj._metadata
        return out
    return type(obj)(items)


def _map_tree(obj, leaf: Callable[[Any, str], Any], path: str = ''):
    """``obj`` with ``leaf(value, path)`` applied to every value that is not a
    plain container, containers rebuilt only where something inside changed
    (so untouched parts, tensors included, stay the same objects). ``leaf``
    sees plain containers too and may return a replacement for them."""
    replaced = leaf(obj, path)
    if replaced is not obj or type(obj) not in _PLAIN_CONTAINERS:
        return replaced
    if isinstance(obj, dict):
        items = [(k, _map_tree(v, leaf, f'{path}.{k}' if path else str(k)))
                 for k, v in obj.items()]
        changed = any(new is not obj[k] for k, new in items)
    else:
        values = list(obj)
        items = [_map_tree(v, leaf, f'{path}[{i}]') for i, v in enumerate(values)]
        changed = any(new is not old for new, old in zip(items, values))
    return _rebuild(obj, items) if changed else obj


def _to_plain_leaf(obj, path: str):
    from mmengine.logging.history_buffer import HistoryBuffer
    if type(obj) is HistoryBuffer:
        logs, counts = obj.data
        return {PLAIN_TAG: _BUFFER, 'log_history': logs.tolist(),
                'count_history': counts.tolist(), 'log_dtype': logs.dtype.str,
                'count_dtype': counts.dtype.str, 'max_length': int(obj.max_length)}
    if isinstance(obj, np.ndarray) and obj.dtype.kind in _NUMPY_KINDS:
        return {PLAIN_TAG: _ARRAY, 'dtype': obj.dtype.str, 'shape': list(obj.shape),
                'data': obj.ravel().tolist()}
    if isinstance(obj, np.generic) and obj.dtype.kind in _NUMPY_KINDS:
        return {PLAIN_TAG: _SCALAR, 'dtype': obj.dtype.str, 'value': obj.item()}
    return obj


def _from_plain_leaf(obj, path: str):
    if not (type(obj) is dict and obj.get(PLAIN_TAG) in _FIELDS
            and set(obj) == _FIELDS[obj[PLAIN_TAG]]):
        return obj
    kind = obj[PLAIN_TAG]
    if kind == _BUFFER:
        from mmengine.logging.history_buffer import HistoryBuffer
        return HistoryBuffer(np.array(obj['log_history'], dtype=obj['log_dtype']),
                             np.array(obj['count_history'], dtype=obj['count_dtype']),
                             obj['max_length'])
    if kind == _ARRAY:
        return np.array(obj['data'], dtype=obj['dtype']).reshape(obj['shape'])
    return np.array(obj['value'], dtype=obj['dtype'])[()]


def to_plain(obj):
    """``obj`` (a checkpoint or a part of it) with mmengine's
    ``HistoryBuffer`` and numpy arrays and scalars (numbers, strings) replaced
    by tagged dicts of Python lists and numbers, which torch's default
    ``torch.load(weights_only=True)`` reads; everything else as it was, the
    same objects where nothing inside changed. :func:`from_plain` inverts it."""
    return _map_tree(obj, _to_plain_leaf)


def from_plain(obj):
    """Inverse of :func:`to_plain`: the tagged dicts become ``HistoryBuffer``
    and numpy objects equal to the originals (values, dtypes, shapes, buffer
    lengths); checkpoints written without them pass unchanged."""
    return _map_tree(obj, _from_plain_leaf)


def non_plain_entries(obj) -> List[Tuple[str, str]]:
    """``(path, type name)`` of every value in ``obj`` that torch's default
    ``weights_only`` loader refuses (anything but tensors, numbers, strings,
    bytes, ``None``, dtypes, devices, sizes and plain dicts, lists, tuples and
    sets); paths read ``meta.dataset_meta.palette[0]``."""
    found = []

    def check(value, path):
        if type(value) in _PLAIN_CONTAINERS or type(value) in _PLAIN_LEAVES:
            return value
        if type(value) in (torch.Tensor, torch.nn.Parameter):
            return value
        found.append((path, f'{type(value).__module__}.{type(value).__qualname__}'))
        return value

    _map_tree(obj, check)
    return found
