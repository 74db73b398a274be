"""A config ready for mmengine's ``Runner``, and the runner itself.

:func:`load_config` reads a config with command-line overrides, its work
dir and launcher (on a machine without GPUs, distributed runs use gloo and
plain BN); :func:`build_runner` builds the runner with the task's modules
registered. ``tools/train.py``, ``tools/test.py`` and the demo use both.
"""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from ..utils.dist import init_process_group
from ..utils.errors import ConfigError
from ..utils.tasks import task_of, task_registries


def replace_type(node, old, new) -> None:
    """Set ``type=new`` in every config dict under ``node`` whose ``type``
    is ``old`` (a name or a class)."""
    if isinstance(node, dict):
        if node.get('type') == old:
            node['type'] = new
        for value in node.values():
            replace_type(value, old, new)
    elif isinstance(node, (list, tuple)):
        for value in node:
            replace_type(value, old, new)


# The package's configs: the repository's configs/ (linked) in a checkout, a
# copy of it in an installed wheel.
CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')


# The help line of every tool's CONFIG argument.
CONFIG_HELP = ('config file, the name of one of the package\'s configs '
               '(maskrcnn_fasternet_s_coco), or mmdet::PATH / mmseg::PATH')


def config_file(name: str) -> str:
    """The path of the package's config ``name`` (``maskrcnn_fasternet_s_coco``,
    with or without ``.py``), wherever the package is installed."""
    return osp.join(CONFIG_DIR, name if name.endswith('.py') else f'{name}.py')


def resolve_config_path(path: str) -> str:
    """The config file that ``path`` names: a file, the name of one of the
    package's configs (``maskrcnn_fasternet_s_coco``), or ``mmdet::x.py`` /
    ``mmseg::x.py`` for a config shipped with that package."""
    if '::' in path:
        package, rel = path.split('::', 1)
        from mmengine.utils import get_installed_path, is_installed
        if not is_installed(package):
            raise ConfigError(f'Config {path}: package {package} is not installed.')
        path = osp.join(get_installed_path(package), '.mim', 'configs', rel)
    elif not osp.isfile(path) and osp.sep not in path and osp.isfile(config_file(path)):
        path = config_file(path)
    if not osp.isfile(path):
        raise ConfigError(f'Config file {path} not found; give a path, the name of one of '
                          f'the package\'s configs (e.g. maskrcnn_fasternet_s_coco, listed '
                          f'in {CONFIG_DIR}) or mmdet::/mmseg:: and a config of that package.')
    return path


def load_config(path: str, cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None, launcher: str = 'none') -> Config:
    """Read the config ``path`` names (see :func:`resolve_config_path`),
    apply overrides and set the work dir and launcher. A key that nothing
    takes, in the file or the overrides, is a :class:`ConfigError` naming
    the closest valid names (:func:`check_config_keys`)."""
    from .config_keys import check_config_keys
    path = resolve_config_path(path)
    cfg = Config.fromfile(path)
    added = set()
    if cfg_options:
        added = {key.split('.', 1)[0] for key in cfg_options} - set(cfg.keys())
        cfg.merge_from_dict(cfg_options)
    task_of(cfg, path)
    check_config_keys(cfg, added)
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.launcher = launcher
    if launcher != 'none' and not torch.cuda.is_available():
        # NCCL needs GPUs; gloo runs the same processes on CPU. The default
        # wrapper pins each replica to a CUDA device, so state it without one.
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
        # SyncBN (mmseg's default) only runs on GPUs; plain BN on each rank.
        replace_type(cfg.model, 'SyncBN', 'BN')
        if cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters', False))
    return cfg


def build_runner(cfg: Config):
    """Build the mmengine runner for ``cfg`` in its default scope, with the
    task's modules registered."""
    init_process_group(cfg)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    task_registries(task_of(cfg))
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


__all__ = ['CONFIG_DIR', 'CONFIG_HELP', 'config_file', 'resolve_config_path', 'load_config',
           'build_runner', 'replace_type']
