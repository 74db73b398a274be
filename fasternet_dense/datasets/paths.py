"""Where a dataset config reads its files from, resolved as mmengine's
datasets resolve them, and the check that they are there before a run."""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config

from ..utils.errors import MissingFileError
from ..utils.fileio import is_local


def leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Yield the datasets that read files, through wrappers such as
    RepeatDataset, ClassBalancedDataset and ConcatDataset."""
    if 'datasets' in dataset:
        for inner in dataset['datasets']:
            yield from leaf_datasets(inner)
    elif 'dataset' in dataset:
        yield from leaf_datasets(dataset['dataset'])
    else:
        yield dataset


def join_data_root(data_root: Optional[str], path: str) -> str:
    """``path`` (an ``ann_file`` or a ``data_prefix`` value) resolved as
    mmengine's ``BaseDataset._join_prefix`` does: kept as it is when it is
    absolute, a URL, or there is no ``data_root``; else joined to
    ``data_root``, so an empty prefix is ``data_root`` itself."""
    if not data_root or osp.isabs(path) or not is_local(path):
        return path
    return osp.join(data_root, path)


def data_folder(dataset: dict, key: str, default: Optional[str] = None) -> Optional[str]:
    """The folder a dataset config reads ``data_prefix[key]`` files from
    (``'img'`` in mmdet, ``'img_path'`` and ``'seg_map_path'`` in mmseg),
    resolved against ``data_root`` as the dataset resolves it.

    ``default`` stands in for a key the prefix lacks; without one such a
    key gives None. ``''`` (no ``data_root``, empty prefix) is the current
    folder, as for the dataset.
    """
    folder = (dataset.get('data_prefix') or {}).get(key, default)
    if folder is None:
        return None
    return join_data_root(dataset.get('data_root'), folder)


def annotation_file(dataset: dict) -> Optional[str]:
    """The dataset config's ``ann_file`` resolved against ``data_root``, or
    None if it names none."""
    ann_file = dataset.get('ann_file')
    return join_data_root(dataset.get('data_root'), ann_file) if ann_file else None


def dataset_paths(dataset: dict) -> List[Tuple[str, str]]:
    """``(what, path)`` pairs a dataset config needs on disk: its annotation
    file and its image / label folders, resolved against ``data_root``."""
    paths = []
    ann_file = annotation_file(dataset)
    if ann_file:
        paths.append(('annotation file', ann_file))
    for key in ('img', 'img_path', 'seg_map_path'):
        folder = data_folder(dataset, key)
        if folder:  # '' is the current folder
            what = 'label folder' if key == 'seg_map_path' else 'image folder'
            paths.append((what, folder))
    return paths


def check_datasets(cfg: Config, loaders: Tuple[str, ...]) -> None:
    """Raise :class:`MissingFileError` naming the first missing dataset path
    of the given dataloaders (``'train_dataloader'``, ...)."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or not loader_cfg.get('dataset'):
            continue
        for dataset in leaf_datasets(loader_cfg['dataset']):
            for what, path in dataset_paths(dataset):
                if not is_local(path):
                    continue  # read through a file backend, not the local disk
                exists = osp.isfile(path) if what == 'annotation file' else osp.isdir(path)
                if exists:
                    continue
                key = f'{loader}.dataset.data_root'
                name = dataset.get('type', 'dataset')
                name = getattr(name, '__name__', name)
                root = dataset.get('data_root')
                if root and osp.isfile(root):
                    raise MissingFileError(
                        f'{name} data_root {root} ({loader}) is a file, not a folder; point '
                        f'{key} at the folder that holds the data.')
                if what != 'annotation file' and osp.isfile(path):
                    raise MissingFileError(
                        f'{name} {what} {path} ({loader}) is a file, not a folder; point '
                        f'{key} (or data_prefix) at the folder that holds the images.')
                raise MissingFileError(
                    f'{name} {what} {path} not found ({loader}). Put the data there (the '
                    'README shows the COCO and ADE20K layouts) or point the config at it, '
                    f'e.g. --cfg-options {key}=PATH.')
