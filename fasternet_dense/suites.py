"""Named sets of models timed together: the paper's speed tables on the
user's own machine.

A suite is a list of rows. Each row builds one network (a backbone, or a
stack of operators) and names the input it runs on, the paper's figures for
it and the FasterNet row it is compared with. :func:`suite_rows` gives the
rows of a named suite or of a user's suite file; :mod:`.suite_bench` times
them.

Suites:

* ``paper-imagenet``: Table 3 (FasterNet T0..L and the peers the libraries
  build, plus MobileNetV3, MobileOne and EfficientFormer), 224x224.
* ``paper-operators``: Table 1, ten stacked Conv / GConv / DWConv / PConv
  3x3 layers on four feature maps.

A suite file (``.py`` defining ``suite = [...]``, or ``.yaml``/``.yml``
holding a list) names its rows as configs (a path, a package config name or
``mmdet::PATH``: the config's backbone is timed), peers by name
(``peer='MobileViT-XXS'``) or backbone configs (``backbone=dict(type=...)``),
each optionally with ``label``, ``cfg_options`` and ``pair`` (the label of
the row it is compared with).
"""
import os.path as osp
from typing import Callable, Dict, List, Optional

import torch.nn as nn

from .errors import ConfigError
from .paper import OPERATOR_MAPS, OPERATORS, TABLE3, table1_row, table3_row
from .peers import FASTERNET, PEERS, UNAVAILABLE, build_backbone, build_peer

# Peers of paper-imagenet that are not in Table 3, and the FasterNet row each
# is compared with (the one nearest in FLOPs).
EXTRA_IMAGENET = {
    'MobileNetV3-Large': 'FasterNet-T0',
    'MobileOne-S0': 'FasterNet-T0',
    'MobileOne-S1': 'FasterNet-T1',
    'EfficientFormer-L1': 'FasterNet-T2',
    'EfficientFormer-L3': 'FasterNet-S',
}


def row(label: str, build: Callable[[], nn.Module], shape, paper: Optional[dict] = None,
        pair: Optional[str] = None, group: str = '', note: str = '') -> dict:
    """One network of a suite.

    Args:
        build: returns the network (eval mode, random weights).
        shape: the input of one image, ``(C, H, W)``.
        paper: the paper's figures for this row (see :mod:`.paper`).
        pair: label of the row this one is compared with.
        group: rows are printed in groups (Table 3's FasterNet rows, Table
            1's feature maps).
    """
    return dict(label=label, build=build, shape=tuple(shape), paper=paper, pair=pair,
                group=group, note=note)


def _imagenet_rows() -> List[dict]:
    rows = []
    for name in TABLE3:
        if name in UNAVAILABLE:
            continue
        paper = table3_row(name)
        rows.append(row(name, lambda name=name: build_peer(name), (3, 224, 224), paper,
                        pair=paper['pair'], group=paper['pair']))
    for name, pair in EXTRA_IMAGENET.items():
        rows.append(row(name, lambda name=name: build_peer(name), (3, 224, 224), None,
                        pair=pair, group=pair, note='not in Table 3'))
    order = list(FASTERNET)
    return sorted(rows, key=lambda r: order.index(r['group']))


class StackedOperator(nn.Sequential):
    """Ten (by default) layers of one 3x3 operator that keep the map's
    shape, as in the paper's Table 1."""

    def __init__(self, operator: str, channels: int, layers: int = 10):
        super().__init__(*[_operator(operator, channels) for _ in range(layers)])


def _operator(operator: str, channels: int) -> nn.Module:
    from .backbone import PartialConv
    if operator == 'Conv 3x3':
        return nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    if operator == 'GConv 3x3 (16 groups)':
        return nn.Conv2d(channels, channels, 3, padding=1, groups=16, bias=False)
    if operator == 'DWConv 3x3':
        return nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    if operator == 'PConv 3x3 (r=1/4)':
        return PartialConv(channels, n_div=4)
    raise ConfigError(f'Unknown operator {operator!r}; known: {", ".join(OPERATORS)}.')


def _operator_rows() -> List[dict]:
    rows = []
    for fmap in OPERATOR_MAPS:
        group = 'x'.join(map(str, fmap))
        for op in OPERATORS:
            rows.append(row(f'{op} @ {group}',
                            lambda op=op, c=fmap[0]: StackedOperator(op, c).eval(), fmap,
                            table1_row(op, fmap), pair=f'PConv 3x3 (r=1/4) @ {group}',
                            group=group))
    return rows


SUITES: Dict[str, Callable[[], List[dict]]] = {
    'paper-imagenet': _imagenet_rows,
    'paper-operators': _operator_rows,
}


def _config_backbone(config: str, cfg_options: Optional[dict]) -> nn.Module:
    from .runner import load_config
    cfg = load_config(config, cfg_options)
    backbone = cfg.model.backbone.to_dict()
    backbone.pop('init_cfg', None)
    backbone.pop('pretrained', None)
    return build_backbone(backbone, cfg.get('default_scope'))


def _file_row(item, index: int, path: str, shape) -> dict:
    if isinstance(item, str):
        item = dict(config=item)
    if not isinstance(item, dict) or sum(k in item for k in ('config', 'peer', 'backbone')) != 1:
        raise ConfigError(f'{path}: entry {index} must be a config, or a dict with exactly one '
                          f'of config=, peer= or backbone=; got {item!r}.')
    unknown = set(item) - {'config', 'peer', 'backbone', 'label', 'cfg_options', 'pair'}
    if unknown:
        raise ConfigError(f'{path}: entry {index} has unknown keys {sorted(unknown)}; use '
                          'config/peer/backbone, label, cfg_options, pair.')
    if 'peer' in item:
        name = item['peer']
        if name not in PEERS and name not in FASTERNET:
            raise ConfigError(f'{path}: entry {index}: unknown peer {name!r}; known: '
                              f'{", ".join(list(FASTERNET) + sorted(PEERS))}.')
        build, label = (lambda: build_peer(name)), name
    elif 'backbone' in item:
        cfg = dict(item['backbone'])
        build, label = (lambda: build_backbone(cfg)), str(cfg.get('type'))
    else:
        config, options = item['config'], item.get('cfg_options')
        build = lambda: _config_backbone(config, options)  # noqa: E731
        label = osp.splitext(osp.basename(config.split('::')[-1]))[0]
    return row(item.get('label', label), build, (3, *shape), pair=item.get('pair'))


def load_suite_file(path: str, shape=(224, 224)) -> List[dict]:
    """The rows of a user's suite file (see the module docstring)."""
    if not osp.isfile(path):
        raise ConfigError(f'--suite {path}: no such suite or file; suites: '
                          f'{", ".join(SUITES)}, or a .py/.yaml file listing configs.')
    if path.endswith(('.yaml', '.yml')):
        import yaml
        with open(path) as f:
            items = yaml.safe_load(f)
    elif path.endswith('.py'):
        from mmengine.config import Config
        items = Config.fromfile(path).get('suite')
        items = items.to_dict() if hasattr(items, 'to_dict') else items
    else:
        raise ConfigError(f'--suite {path}: a suite file is .py (suite = [...]) or .yaml.')
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError(f'{path}: a suite file holds a non-empty list of entries '
                          '(.py: suite = [...]).')
    rows = [_file_row(item, i, path, shape) for i, item in enumerate(items)]
    labels = [r['label'] for r in rows]
    for r in rows:
        if r['pair'] is not None and r['pair'] not in labels:
            raise ConfigError(f'{path}: pair {r["pair"]!r} of {r["label"]!r} is not the label '
                              f'of an entry ({", ".join(labels)}).')
    return rows


def suite_rows(suite: str, shape=None) -> List[dict]:
    """The rows of the named suite, or of a suite file (``shape``: its
    input ``(H, W)``, default 224x224)."""
    if suite in SUITES:
        if shape is not None:
            raise ConfigError(f'--shape does not apply to {suite}: its inputs are the paper\'s.')
        return SUITES[suite]()
    return load_suite_file(suite, tuple(shape or (224, 224)))


__all__ = ['SUITES', 'EXTRA_IMAGENET', 'StackedOperator', 'row', 'suite_rows',
           'load_suite_file']
