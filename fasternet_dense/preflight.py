"""Checks that run before a model or dataset is built, so a missing file is
one clear line instead of a traceback twenty minutes into a run."""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict

from .errors import MissingFileError

# Where the official ImageNet weights are published.
OFFICIAL_RELEASE = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'


def _leaf_datasets(dataset: dict) -> Iterator[dict]:
    """Yield the datasets that read files, through wrappers such as
    RepeatDataset, ClassBalancedDataset and ConcatDataset."""
    if 'datasets' in dataset:
        for inner in dataset['datasets']:
            yield from _leaf_datasets(inner)
    elif 'dataset' in dataset:
        yield from _leaf_datasets(dataset['dataset'])
    else:
        yield dataset


def dataset_paths(dataset: dict) -> List[Tuple[str, str]]:
    """``(what, path)`` pairs a dataset config needs on disk: its annotation
    file and its image / label folders, resolved against ``data_root``."""
    root = dataset.get('data_root') or ''
    paths = []
    ann_file = dataset.get('ann_file')
    if ann_file:
        paths.append(('annotation file', osp.join(root, ann_file)))
    prefix = dataset.get('data_prefix') or {}
    for key in ('img', 'img_path', 'seg_map_path'):
        folder = prefix.get(key)
        if folder:
            what = 'label folder' if key == 'seg_map_path' else 'image folder'
            paths.append((what, osp.join(root, folder)))
    return paths


def check_datasets(cfg: Config, loaders: Tuple[str, ...]) -> None:
    """Raise :class:`MissingFileError` naming the first missing dataset path
    of the given dataloaders (``'train_dataloader'``, ...)."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or not loader_cfg.get('dataset'):
            continue
        for dataset in _leaf_datasets(loader_cfg['dataset']):
            for what, path in dataset_paths(dataset):
                exists = osp.isfile(path) if what == 'annotation file' else osp.isdir(path)
                if not exists:
                    key = f'{loader}.dataset.data_root'
                    raise MissingFileError(
                        f'{dataset.get("type", "dataset")} {what} {path} not found '
                        f'({loader}). Put the data there (README, "Data") or point '
                        f'the config at it, e.g. --cfg-options {key}=PATH.')


def pretrained_checkpoint(cfg: Config) -> Optional[str]:
    """The backbone's pretrained checkpoint named by the config, if any
    (``backbone.init_cfg`` or mmseg's ``model.pretrained``)."""
    model = cfg.get('model') or {}
    backbone = model.get('backbone') or {}
    init_cfg = backbone.get('init_cfg') or {}
    if isinstance(init_cfg, (dict, ConfigDict)) and init_cfg.get('type') == 'Pretrained':
        return init_cfg.get('checkpoint')
    return backbone.get('pretrained') or model.get('pretrained')


def check_pretrained(cfg: Config) -> None:
    """Raise :class:`MissingFileError` if the backbone's local pretrained
    checkpoint is missing, saying where to get it and how to skip it."""
    if cfg.get('load_from') or cfg.get('resume'):
        return  # the weights come from the run's own checkpoint
    path = pretrained_checkpoint(cfg)
    if not path or '://' in path or osp.isfile(path):
        return
    where = 'model.pretrained' if (cfg.model.get('pretrained') and not (
        cfg.model.get('backbone') or {}).get('init_cfg')) else 'model.backbone.init_cfg'
    raise MissingFileError(
        f'ImageNet checkpoint for the backbone not found at {path}. Download '
        f'{OFFICIAL_RELEASE}{osp.basename(path)} to that path, or train from scratch '
        f'with --cfg-options {where}=None.')
