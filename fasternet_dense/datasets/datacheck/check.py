"""The data check a config asks for: which datasets of its dataloaders are
checked, with which options, and what happens to the problems found.

Config (all optional)::

    data_check = dict(enabled=True, skip_bad=False, image_read='auto',
                      decode_limit=2000, workers=None, cache=True)

``workers``: processes to check with (None: one per available core; 1: in
this process). ``cache``: keep what was found in
``<work_dir>/data_check/<loader>_<name>_cache.json`` and read again only
the files whose size or modification time changed (:mod:`.cache`).

In a distributed launch, :func:`check_data_once` runs the check on rank 0
while the other ranks wait, and gives them its outcome.
"""
import inspect
import os.path as osp
import time
from collections import OrderedDict
from typing import Callable, List, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import print_log

from ...utils.errors import ConfigError, DatasetError
from ...utils.config_utils import type_name
from ...utils.fileio import is_local
from ...utils.tasks import task_of, task_registries
from ..paths import annotation_file, data_folder, leaf_datasets
from .cache import CheckCache
from .coco import check_coco
from .images import IMAGE_READ_MODES
from .parallel import worker_count
from .report import output_path, summary_lines
from .seg import check_seg_layout
from .skip import skip_coco_samples, skip_seg_samples

DATA_CHECK_DEFAULTS = dict(enabled=True, skip_bad=False, image_read='auto', decode_limit=2000,
                           workers=None, cache=True)
# The dataloaders whose entries a filtered file is given to.
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


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
    if opts['workers'] is not None and (not isinstance(opts['workers'], int)
                                        or opts['workers'] < 1):
        raise ConfigError(f"data_check.workers={opts['workers']!r}; use a number of "
                          'processes >= 1, or None for one per core.')
    return opts


def _cache(opts: dict, work_dir: str, loader: str, source: str, **key) -> Optional[CheckCache]:
    if not opts['cache']:
        return None
    key.update(image_read=opts['image_read'], decode_limit=opts['decode_limit'])
    return CheckCache(output_path(work_dir, loader, source, '_cache.json'), key)


def _absolute(path: Optional[str]) -> Optional[str]:
    return osp.abspath(path) if path else path


def _log_checked(loader: str, what: str, seconds: float, workers: int) -> None:
    print_log(f'data check: {loader}: {what} in {seconds:.1f} s ({workers} '
              f'worker{"s" if workers > 1 else ""})', logger='current')


def _dataset_class(scope: str, type_):
    """The registered dataset class for a config's ``type``, or None if the
    task package cannot be imported here."""
    if not isinstance(type_, str):
        return type_ if isinstance(type_, type) else None
    try:
        return task_registries(scope).DATASETS.get(type_name(type_))
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


def _errors_or_skip(result, lines: List[str], opts: dict,
                    skip: Callable[[], List[str]]) -> List[str]:
    """The error lines of one dataset's check. Problems that stop the run
    (``result.fatal``) always return; per-sample problems return too unless
    ``skip_bad`` is set, in which case ``skip()`` drops the bad samples."""
    if result.fatal or (lines and not opts['skip_bad']):
        return result.fatal + lines
    return skip() if lines else []


def _check_coco_dataset(cfg, loader, dataset, shared, cls, opts, work_dir) -> List[str]:
    ann_file = annotation_file(dataset)
    img_dir = data_folder(dataset, 'img', default='')
    if not (is_local(ann_file) and is_local(img_dir)):
        return []
    classes = _classes(dataset, cls)
    cache = _cache(opts, work_dir, loader, ann_file, kind='coco', ann_file=_absolute(ann_file),
                   img_dir=_absolute(img_dir), classes=classes)
    workers = worker_count(opts['workers'])
    start = time.perf_counter()
    result = check_coco(ann_file, img_dir, classes, opts['image_read'], opts['decode_limit'],
                        name=loader, workers=workers, cache=cache)
    if cache is not None and result.changed:
        cache.save()
    unchanged = ', the annotation file unchanged' if result.from_cache else ''
    _log_checked(loader, f'{ann_file}: {result.num_images} images, {result.checked_images} '
                 f'read{unchanged}', time.perf_counter() - start, workers)
    lines = summary_lines(result.problems, work_dir, loader, ann_file)
    return _errors_or_skip(result, lines, opts, lambda: skip_coco_samples(
        cfg, loader, shared, result, ann_file, lines, work_dir, cache))


def _check_seg_dataset(loader, dataset, shared, cls, opts, work_dir) -> List[str]:
    img_dir = data_folder(dataset, 'img_path')
    seg_dir = data_folder(dataset, 'seg_map_path')
    ann_file = annotation_file(dataset)
    if any(path and not is_local(path) for path in (img_dir, seg_dir, ann_file)):
        return []
    classes = _classes(dataset, cls)
    source = dataset['data_prefix']['img_path'] or 'images'
    suffixes = dict(
        img_suffix=dataset.get('img_suffix', _class_default(cls, 'img_suffix', '.jpg')),
        seg_map_suffix=dataset.get('seg_map_suffix',
                                   _class_default(cls, 'seg_map_suffix', '.png')))
    reduce_zero_label = dataset.get('reduce_zero_label',
                                    _class_default(cls, 'reduce_zero_label', False))
    ann_file = ann_file if ann_file and osp.isfile(ann_file) else None
    num_classes = len(classes) if classes else None
    cache = _cache(opts, work_dir, loader, source, kind='seg', img_dir=_absolute(img_dir),
                   seg_dir=_absolute(seg_dir), ann_file=_absolute(ann_file),
                   num_classes=num_classes, reduce_zero_label=reduce_zero_label, **suffixes)
    workers = worker_count(opts['workers'])
    start = time.perf_counter()
    result = check_seg_layout(
        img_dir, seg_dir,
        ann_file=ann_file, num_classes=num_classes, reduce_zero_label=reduce_zero_label,
        image_read=opts['image_read'], decode_limit=opts['decode_limit'], name=loader,
        workers=workers, cache=cache, **suffixes)
    if cache is not None and result.changed:
        cache.save()
    _log_checked(loader, f'{img_dir}: {len(result.names)} samples, {result.checked_samples} '
                 'read', time.perf_counter() - start, workers)
    lines = summary_lines(result.problems, work_dir, loader, source)
    return _errors_or_skip(result, lines, opts, lambda: skip_seg_samples(
        loader, shared, result, img_dir, source, lines, work_dir))


def _loader_datasets(cfg: Config, loader: str) -> List[dict]:
    loader_cfg = cfg.get(loader)
    if not loader_cfg or not loader_cfg.get('dataset'):
        return []
    return list(leaf_datasets(loader_cfg['dataset']))


def _files_key(dataset: dict) -> tuple:
    """What decides the files a dataset entry reads."""
    return (repr(dataset.get('data_root')), repr(dataset.get('ann_file')),
            repr(dataset.get('data_prefix')))


def _datasets_to_check(cfg: Config, loaders: Sequence[str]) -> list:
    """``(loader, dataset, shared)`` for each set of files the ``loaders``
    read: the first loader and dataset entry reading them, and every entry
    of the config's dataloaders that reads the same files.

    A val loader often shares its dataset with the train or test loader
    (``test_dataloader = val_dataloader``); the files are checked once, and
    with ``skip_bad`` every loader must read the filtered list.
    """
    found = OrderedDict()
    for loader in loaders:
        for dataset in _loader_datasets(cfg, loader):
            found.setdefault(_files_key(dataset), (loader, dataset, []))
    for loader in list(DATALOADERS) + [name for name in loaders if name not in DATALOADERS]:
        for dataset in _loader_datasets(cfg, loader):
            entry = found.get(_files_key(dataset))
            if entry and not any(d is dataset for d in entry[2]):
                entry[2].append(dataset)
    return list(found.values())


def check_data(cfg: Config, loaders: Sequence[str]) -> None:
    """Check the content of the datasets of the given dataloaders.

    Raises :class:`DatasetError` listing one line per kind of problem, unless
    ``cfg.data_check.skip_bad`` is set; then bad samples are dropped (see
    :mod:`.skip`) and ``cfg`` is changed to read the filtered lists.
    Does nothing with ``data_check.enabled=False``.
    """
    opts = data_check_options(cfg)
    if not opts['enabled']:
        return
    scope = task_of(cfg)
    work_dir = cfg.get('work_dir') or 'work_dirs'
    errors: List[str] = []
    for loader, dataset, shared in _datasets_to_check(cfg, loaders):
        cls = _dataset_class(scope, dataset.get('type'))
        kind = dataset.get('type') if isinstance(dataset.get('type'), str) else ''
        if scope == 'mmdet' and str(dataset.get('ann_file', '')).endswith('.json') \
                and 'Panoptic' not in kind:
            errors += _check_coco_dataset(cfg, loader, dataset, shared, cls, opts, work_dir)
        elif scope == 'mmseg' and (dataset.get('data_prefix') or {}).get('img_path') \
                is not None:
            errors += _check_seg_dataset(loader, dataset, shared, cls, opts, work_dir)
    if errors:
        raise DatasetError('\n'.join(errors + [
            'Fix the data, or leave the bad samples out with --cfg-options '
            'data_check.skip_bad=True (data_check.enabled=False turns the check off).']))


# What rank 0's check may change (data_check.skip_bad points these at filtered files).
_CHANGED_SECTIONS = DATALOADERS + ('val_evaluator', 'test_evaluator')


def check_data_once(cfg: Config, loaders: Sequence[str],
                    first: Optional[Callable[[], None]] = None) -> None:
    """:func:`check_data` once per launch, after ``first()`` (taking the
    work dir's lock, say) on the same process.

    Alone, this is ``first()`` then :func:`check_data`. In a distributed launch
    (``cfg.launcher`` other than ``'none'``) the process group is joined
    first; rank 0 checks while the other ranks wait, then every rank stops
    with rank 0 when it found problems, or takes the dataloader and
    evaluator settings rank 0's check left (the filtered files of
    ``skip_bad``).
    """
    if cfg.get('launcher', 'none') == 'none':
        if first is not None:
            first()
        check_data(cfg, loaders)
        return
    from mmengine.dist import broadcast_object_list, get_rank

    from ...utils.dist import init_process_group
    init_process_group(cfg)
    rank = get_rank()
    outcome: list = [None]
    failure = None
    if rank == 0:
        try:
            if first is not None:
                first()
            check_data(cfg, loaders)
            outcome = [dict(sections={k: cfg[k] for k in _CHANGED_SECTIONS if k in cfg})]
        except BaseException as err:  # the others must not wait for ever
            failure = err
            outcome = [dict(error=f'{type(err).__name__}: {err}')]
    broadcast_object_list(outcome, src=0)
    if failure is not None:
        raise failure
    if rank != 0:
        if 'error' in outcome[0]:
            raise DatasetError(f'rank {rank} stops: rank 0 failed its checks before '
                               'training (rank 0 printed why).')
        for key, value in outcome[0]['sections'].items():
            cfg[key] = value
