"""The task of a config: detection (``mmdet``) or segmentation (``mmseg``).

A config's ``default_scope`` names the OpenMMLab package whose registries
build its model, datasets and runner parts; this module is the one place
that reads it and the one place that imports the task package.
"""
from types import ModuleType
from typing import Optional

from mmengine.config import Config

from .errors import ConfigError

TASKS = ('mmdet', 'mmseg')


def task_of(cfg: Config, path: Optional[str] = None) -> str:
    """``'mmdet'`` or ``'mmseg'`` from the config's ``default_scope``;
    :class:`ConfigError` for anything else (``path`` names the config in
    the message)."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        where = f'Config {path}' if path else 'Config'
        raise ConfigError(f'{where} has default_scope={scope!r}; inherit an mmdet:: or mmseg:: '
                          "base so it is 'mmdet' or 'mmseg'.")
    return scope


def task_registries(scope: str) -> ModuleType:
    """The ``registry`` module of the task package (``mmdet.registry`` or
    ``mmseg.registry``) with all of the package's modules registered, without
    changing the default scope."""
    if scope == 'mmdet':
        from mmdet import registry
        from mmdet.utils import register_all_modules
    elif scope == 'mmseg':
        from mmseg import registry
        from mmseg.utils import register_all_modules
    else:
        raise ConfigError(f"Task {scope!r} is unknown; configs set default_scope to 'mmdet' "
                          "or 'mmseg'.")
    register_all_modules(init_default_scope=False)
    return registry


__all__ = ['TASKS', 'task_of', 'task_registries']
