"""Named sets of models timed together: the paper's speed tables on the
user's own machine.

A suite is a list of rows. Each row builds one network (a backbone, or a
stack of operators) and names the input it runs on, the paper's figures for
it and the FasterNet row it is compared with. :func:`suite_rows` gives the
rows of a named suite or of a user's suite file; :mod:`.suite_runner` times
them.

Suites:

* ``paper-imagenet``: Table 3 (FasterNet T0..L and the peers the libraries
  build, plus MobileNetV3, MobileOne, EfficientFormer, ShuffleNetV1,
  GhostNetV2 and SqueezeNet), 224x224.
* ``paper-operators``: Table 1, ten stacked Conv / GConv / DWConv / PConv
  3x3 layers on four feature maps.
* ``paper-coco``: Table 4, Mask R-CNN with FasterNet S/M/L, mmdet's ResNet-50,
  ResNet-101 and ResNeXt-101-64x4d configs and PVT-S/M/L in mmdet's
  ResNet-50 config, whole ``test_step`` on a 1333x800 image.
* ``realtime``: RTMDet-tiny/s/m with mmdet's CSPNeXt against RTMDet with
  FasterNet-T0/T1/T2, GhostNet, GhostNetV2, RepGhostNet, MobileNetV1/V3,
  ShuffleNetV1/V2 and SqueezeNet, whole ``test_step`` at 640x640 (candidates
  capped, see :data:`REALTIME_CAPS`), and each backbone alone; ratios
  against RTMDet-tiny and CSPNeXt-tiny.
* ``seeds-light``: the light backbones (ShuffleNetV1/V2, MobileNetV2/V3,
  MobileViT, MobileOne, GhostNetV2, SqueezeNet, FasterNet T0..T2) as
  Semantic FPN and as RetinaNet backbones, whole ``test_step`` at 512x512.

Backbone rows time the network on a random tensor; model rows (``kind=
'model'``) build a whole detector or segmentor from a config and time its
``test_step`` on a synthetic image put through the config's test pipeline,
resized to the row's input.

A suite file (``.py`` defining ``suite = [...]``, or ``.yaml``/``.yml``
holding a list) names its rows as configs (a path, a package config name or
``mmdet::PATH``: the config's backbone is timed), peers by name
(``peer='MobileViT-XXS'``) or backbone configs (``backbone=dict(type=...)``),
each optionally with ``label``, ``cfg_options`` and ``pair`` (the label of
the row it is compared with); ``whole_model=True`` times a config's whole
``test_step`` instead of its backbone.
"""
import math
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from ..utils.config_utils import pipeline_steps
from ..utils.errors import ConfigError, OptionError
from .paper import OPERATOR_MAPS, OPERATORS, TABLE3, TABLE4, table1_row, table3_row, table4_row
from .peers import FASTERNET, PEERS, UNAVAILABLE, build_backbone, build_peer, peer_backbone_cfg

# Peers of paper-imagenet that are not in Table 3, and the FasterNet row each
# is compared with (the one nearest in FLOPs).
EXTRA_IMAGENET = {
    'MobileNetV3-Large': 'FasterNet-T0',
    'MobileOne-S0': 'FasterNet-T0',
    'MobileOne-S1': 'FasterNet-T1',
    'EfficientFormer-L1': 'FasterNet-T2',
    'EfficientFormer-L3': 'FasterNet-S',
    'ShuffleNetV1-g3': 'FasterNet-T0',
    'GhostNetV2-x1.0': 'FasterNet-T0',
    'GhostNetV2-x1.3': 'FasterNet-T0',
    'GhostNetV2-x1.6': 'FasterNet-T0',
    'SqueezeNet-v1.1': 'FasterNet-T0',
}


# Peers whose network takes only the input size it was made for.
FIXED_INPUT = dict(
    **{f'EfficientFormer-{v}': 'its attention biases are sized for 224x224 input'
       for v in ('L1', 'L3')},
    **{f'Swin-{v}': 'its 7x7 attention windows need at least a 7x7 map at stride 32'
       for v in 'TSB'})


def row(label: str, build: Callable[[], object], shape, paper: Optional[dict] = None,
        pair: Optional[str] = None, group: str = '', note: str = '',
        kind: str = 'backbone', top1: Optional[float] = None) -> dict:
    """One network of a suite.

    Args:
        build: ``kind='backbone'``: returns the network (eval mode, random
            weights); ``kind='model'``: returns the config of a whole
            detector or segmentor, whose test pipeline resizes to ``shape``.
        shape: the input of one image: ``(C, H, W)`` for a backbone, the
            synthetic raw image ``(H, W)`` for a model.
        paper: the paper's figures for this row (see :mod:`.paper`).
        pair: label of the row this one is compared with.
        group: rows are printed in groups (Table 3's FasterNet rows, Table
            1's feature maps).
        top1: the network's published ImageNet top-1 (%), for the picture
            of accuracy against measured latency.
    """
    return dict(label=label, build=build, shape=tuple(shape), paper=paper, pair=pair,
                group=group, note=note, kind=kind, top1=top1)


def _imagenet_rows(shape: Optional[Tuple[int, int]] = None) -> List[dict]:
    rows = []

    def add(name, paper, pair, note=''):
        side = (224, 224) if shape is None or name in FIXED_INPUT else shape
        if shape is not None and name in FIXED_INPUT:
            note = f'{note}; ' * bool(note) + f'224x224: {FIXED_INPUT[name]}'
        top1 = (paper or {}).get('top1') or (PEERS.get(name, {}).get('top1') or (None, ))[0]
        rows.append(row(name, lambda: build_peer(name), (3, *side), paper, pair=pair,
                        group=pair, note=note, top1=top1))

    for name in TABLE3:
        if name not in UNAVAILABLE:
            add(name, table3_row(name), TABLE3[name][-1])
    for name, pair in EXTRA_IMAGENET.items():
        top1 = PEERS[name].get('top1')
        add(name, None, pair, 'not in Table 3' + (
            f'; ImageNet top-1 {top1[0]}% per {top1[1]}' if top1 else ''))
    order = list(FASTERNET)
    return sorted(rows, key=lambda r: order.index(r['group']))


class StackedOperator(nn.Sequential):
    """Ten (by default) layers of one 3x3 operator that keep the map's
    shape, as in the paper's Table 1."""

    def __init__(self, operator: str, channels: int, layers: int = 10):
        super().__init__(*[_operator(operator, channels) for _ in range(layers)])


def _operator(operator: str, channels: int) -> nn.Module:
    from ..models.backbones.fasternet import PartialConv
    if operator == 'Conv 3x3':
        return nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    if operator == 'GConv 3x3 (16 groups)':
        return nn.Conv2d(channels, channels, 3, padding=1, groups=16, bias=False)
    if operator == 'DWConv 3x3':
        return nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    if operator == 'PConv 3x3 (r=1/4)':
        return PartialConv(channels, n_div=4)
    raise ConfigError(f'Unknown operator {operator!r}; known: {", ".join(OPERATORS)}.')


def _operator_rows(shape: Optional[Tuple[int, int]] = None) -> List[dict]:
    rows = []
    for fmap in OPERATOR_MAPS:
        group = 'x'.join(map(str, fmap))
        size = fmap if shape is None else (fmap[0], *shape)
        for op in OPERATORS:
            rows.append(row(f'{op} @ {group}',
                            lambda op=op, c=fmap[0]: StackedOperator(op, c).eval(), size,
                            table1_row(op, fmap), pair=f'PConv 3x3 (r=1/4) @ {group}',
                            group=group))
    return rows


# ------------------------------------------------------------ whole models
def feature_layout(backbone_cfg: dict) -> Tuple[List[int], List[int]]:
    """Channels and strides of a backbone's outputs (one 64x64 forward).
    Strides are the nearest powers of two: a network whose stem and pools
    have no padding (SqueezeNet) gives maps a pixel or two short."""
    model = build_backbone(dict(backbone_cfg))
    with torch.no_grad():
        outs = model(torch.zeros(1, 3, 64, 64))
    return ([o.shape[1] for o in outs],
            [2**round(math.log2(64 / o.shape[-1])) for o in outs])


def set_test_scale(cfg: Config, shape: Tuple[int, int]) -> None:
    """Resize the test pipeline's images to fit ``shape`` (H, W), in place;
    a fixed-size ``Pad`` (RTMDet's) pads to ``shape`` as well."""
    for kind, step in pipeline_steps(cfg):
        if kind == 'Resize':
            step.update(scale=(shape[1], shape[0]), keep_ratio=True)
        elif kind == 'Pad' and step.get('size') is not None:
            step.update(size=(shape[1], shape[0]))  # (W, H), as mmcv's Pad takes it


def dense_config(base: str, backbone: Optional[dict] = None,
                 cfg_options: Optional[dict] = None) -> Config:
    """The config ``base`` (a package config name or ``mmdet::PATH``, with
    ``cfg_options`` applied) with ``backbone`` (random weights) and the neck
    and head inputs set to its outputs' channels and strides.

    A segmentor's FPN head takes every output (``feature_strides``); a
    detector's FPN keeps its ``start_level`` when the backbone has a stride-4
    output and starts at the first output otherwise.
    """
    from ..apis.config import load_config
    cfg = load_config(base, cfg_options)
    if backbone is None:
        cfg.model.backbone.pop('init_cfg', None)
        return cfg
    backbone = {k: v for k, v in backbone.items() if k != 'init_cfg'}
    channels, strides = feature_layout(backbone)
    cfg.model.backbone = backbone
    neck = cfg.model.neck
    neck.in_channels = channels
    head = cfg.model.get('decode_head')
    if head is not None:
        neck.num_outs = len(channels)
        head.update(in_channels=[neck.out_channels] * len(channels),
                    in_index=list(range(len(channels))), feature_strides=strides)
    elif strides[0] != 4:
        neck.start_level = 0
    return cfg


# Table 4's rows: name -> (config, backbone or None for the config's own).
COCO_MODELS = {
    'FasterNet-S': ('maskrcnn_fasternet_s_coco', None),
    'FasterNet-M': ('maskrcnn_fasternet_m_coco', None),
    'FasterNet-L': ('maskrcnn_fasternet_l_coco', None),
    'ResNet-50': ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', None),
    'ResNet-101': ('mmdet::mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py', None),
    'ResNeXt101-64x4d': ('mmdet::mask_rcnn/mask-rcnn_x101-64x4d_fpn_1x_coco.py', None),
    'PVT-Small': ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'PVT-Small'),
    'PVT-Medium': ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'PVT-Medium'),
    'PVT-Large': ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'PVT-Large'),
}
COCO_SHAPE = (800, 1333)


def _model_row(label, base, backbone, shape, cfg_options, **kwargs) -> dict:
    """A whole-model row of config ``base``; ``backbone`` returns the
    backbone config to put in (``None``: the config's own); ``shape`` (H, W)
    or ``None`` for the config's own test resize."""

    def build():
        cfg = dense_config(base, backbone() if backbone else None, cfg_options)
        if shape:
            set_test_scale(cfg, shape)
        return cfg

    spec = row(label, build, shape or (), kind='model', **kwargs)
    spec['cfg_keys'] = list(cfg_options or {})  # left as the user set them
    return spec


def _coco_rows(shape: Optional[Tuple[int, int]] = None, cfg_options=None) -> List[dict]:
    rows = []
    for name in TABLE4:
        base, peer = COCO_MODELS[name]
        paper = table4_row(name)
        backbone = peer and (lambda peer=peer: peer_backbone_cfg(peer))
        rows.append(_model_row(name, base, backbone, shape or COCO_SHAPE, cfg_options,
                               paper=paper, pair=paper['pair'], group=paper['pair']))
    return rows


# seeds-light: each light backbone's outputs at strides 4-32 (the last
# index takes the network's final conv where it has one); mmpretrain's
# ShuffleNetV1/V2 have no stride-4 output, SqueezeNet has no stride 32.
LIGHT_BACKBONES = {
    'ShuffleNetV1-g3': dict(out_indices=(0, 1, 2)),
    'ShuffleNetV2-x1.5': dict(out_indices=(0, 1, 3)),
    'ShuffleNetV2-x2': dict(out_indices=(0, 1, 3)),
    'MobileNetV2': dict(out_indices=(1, 2, 4, 7)),
    'MobileNetV2-x1.4': dict(out_indices=(1, 2, 4, 7)),
    'MobileNetV3-Large': dict(out_indices=(3, 6, 12, 16)),
    'MobileViT-XXS': dict(out_indices=(1, 2, 3, 4)),
    'MobileViT-XS': dict(out_indices=(1, 2, 3, 4)),
    'MobileViT-S': dict(out_indices=(1, 2, 3, 4)),
    'MobileOne-S0': dict(out_indices=(0, 1, 2, 3)),
    'MobileOne-S1': dict(out_indices=(0, 1, 2, 3)),
    'GhostNetV2-x1.0': dict(features_only=True, out_indices=(1, 2, 3, 4)),
    'GhostNetV2-x1.3': dict(features_only=True, out_indices=(1, 2, 3, 4)),
    'GhostNetV2-x1.6': dict(features_only=True, out_indices=(1, 2, 3, 4)),
    'SqueezeNet-v1.1': dict(out_indices=(4, 7, 12)),
    'FasterNet-T0': None, 'FasterNet-T1': None, 'FasterNet-T2': None,
}
LIGHT_HEADS = {
    'SemFPN': 'semfpn_fasternet_t0_ade20k',
    'RetinaNet': 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
}
LIGHT_SHAPE = (512, 512)


def light_backbone_cfg(name: str) -> dict:
    """The backbone config of a :data:`LIGHT_BACKBONES` entry."""
    if name in FASTERNET:
        from ..models.backbones.fasternet import FasterNet
        return dict(type=FasterNet, arch=FASTERNET[name])
    return dict(peer_backbone_cfg(name), **LIGHT_BACKBONES[name])


def _light_note(head: str, name: str) -> str:
    """The strides a row's FPN takes, where its backbone lacks one of 4-32."""
    if name.startswith('ShuffleNet'):
        return 'FPN on strides 8-32 (no stride-4 output)'
    if name.startswith('SqueezeNet'):
        if head == 'RetinaNet':  # mmdet's RetinaNet FPN leaves stride 4 out
            return ('FPN on strides 8-16, its extra levels from the stride-16 map '
                    '(no stride-32 output)')
        return 'FPN on strides 4-16 (no stride-32 output)'
    return ''


def _light_pair(name: str) -> str:
    if name in FASTERNET:
        return name
    return TABLE3[name][-1] if name in TABLE3 else EXTRA_IMAGENET[name]


def _seeds_light_rows(shape: Optional[Tuple[int, int]] = None, cfg_options=None) -> List[dict]:
    rows = []
    for head, base in LIGHT_HEADS.items():
        for name in LIGHT_BACKBONES:
            pair = _light_pair(name)
            rows.append(_model_row(f'{head} {name}', base,
                                   lambda name=name: light_backbone_cfg(name),
                                   shape or LIGHT_SHAPE, cfg_options, pair=f'{head} {pair}',
                                   group=f'{head} {pair}', note=_light_note(head, name)))
    order = [f'{h} {p}' for h in LIGHT_HEADS for p in ('FasterNet-T0', 'FasterNet-T1',
                                                        'FasterNet-T2')]
    return sorted(rows, key=lambda r: order.index(r['group']))


# realtime: RTMDet with mmdet's CSPNeXt backbones and, in this package's
# configs, with FasterNet and the light backbones of its literature (neck
# channels matched), each as a whole ``test_step`` and as a bare backbone.
REALTIME_MODELS = {
    'RTMDet-tiny': 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'RTMDet-s': 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
    'RTMDet-m': 'mmdet::rtmdet/rtmdet_m_8xb32-300e_coco.py',
    'FasterNet-T0': 'rtmdet_fasternet_t0_coco',
    'FasterNet-T1': 'rtmdet_fasternet_t1_coco',
    'FasterNet-T2': 'rtmdet_fasternet_t2_coco',
    'GhostNet-0.5': 'rtmdet_ghostnet_050_coco',
    'GhostNet-1.0': 'rtmdet_ghostnet_100_coco',
    'GhostNet-1.3': 'rtmdet_ghostnet_130_coco',
    'RepGhostNet-0.5': 'rtmdet_repghostnet_050_coco',
    'RepGhostNet-1.0': 'rtmdet_repghostnet_100_coco',
    'RepGhostNet-1.5': 'rtmdet_repghostnet_150_coco',
    'RepGhostNet-2.0': 'rtmdet_repghostnet_200_coco',
    'MobileNetV1': 'rtmdet_mobilenetv1_100_coco',
    'MobileNetV3-Large': 'rtmdet_mobilenetv3_large_coco',
    'ShuffleNetV2': 'rtmdet_shufflenetv2_coco',
    'GhostNetV2-1.0': 'rtmdet_ghostnetv2_100_coco',
    'GhostNetV2-1.3': 'rtmdet_ghostnetv2_130_coco',
    'ShuffleNetV1-g3': 'rtmdet_shufflenetv1_coco',
    'SqueezeNet-v1.1': 'rtmdet_squeezenet1_1_coco',
}
# Realtime rows whose backbone lacks one of RTMDet's strides 8/16/32.
REALTIME_NOTES = {
    'SqueezeNet-v1.1': 'strides 4/8/16 into the PAFPN and head (no stride-32 output)',
}
REALTIME_SHAPE = (640, 640)
# Candidates per image after the score threshold is set to 0: at most 1000
# per feature level into NMS and 100 boxes out (mmdet's configs keep 30000 per
# level, 90000 boxes into NMS at 640x640, whose time would hide the
# backbones'). --cfg-options sets others.
REALTIME_CAPS = {'model.test_cfg.nms_pre': 1000, 'model.test_cfg.max_per_img': 100}


def _realtime_label(name: str, whole: bool) -> str:
    if name.startswith('RTMDet-'):
        return name if whole else f'CSPNeXt-{name[len("RTMDet-"):]}'
    return f'RTMDet {name}' if whole else name


def _realtime_rows(shape: Optional[Tuple[int, int]] = None, cfg_options=None) -> List[dict]:
    options = dict(REALTIME_CAPS, **(cfg_options or {}))
    side = shape or REALTIME_SHAPE
    rows = []
    for name, config in REALTIME_MODELS.items():
        note = REALTIME_NOTES.get(name, '')
        rows.append(_model_row(_realtime_label(name, True), config, None, side, options,
                               pair='RTMDet-tiny', group='RTMDet, whole test_step', note=note))
        spec = row(_realtime_label(name, False),
                   lambda config=config: _config_backbone(config, cfg_options), (3, *side),
                   pair='CSPNeXt-tiny', group='backbone alone', note=note)
        rows.append(spec)
    return sorted(rows, key=lambda r: r['kind'] != 'model')


# Suites of whole models: their builders also take the configs' cfg_options.
MODEL_SUITES: Dict[str, Callable[..., List[dict]]] = {
    'paper-coco': _coco_rows,
    'seeds-light': _seeds_light_rows,
    'realtime': _realtime_rows,
}
SUITES: Dict[str, Callable[..., List[dict]]] = {
    'paper-imagenet': _imagenet_rows,
    'paper-operators': _operator_rows,
    **MODEL_SUITES,
}


def _config_backbone(config: str, cfg_options: Optional[dict]) -> nn.Module:
    from ..apis.config import load_config
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
    unknown = set(item) - {'config', 'peer', 'backbone', 'label', 'cfg_options', 'pair',
                           'whole_model'}
    if unknown:
        raise ConfigError(f'{path}: entry {index} has unknown keys {sorted(unknown)}; use '
                          'config/peer/backbone, label, cfg_options, pair, whole_model.')
    if item.get('whole_model') and 'config' not in item:
        raise ConfigError(f'{path}: entry {index}: whole_model=True times a config\'s whole '
                          'model; give config=.')
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
        label = osp.splitext(osp.basename(config.split('::')[-1]))[0]
        if item.get('whole_model'):
            return _model_row(item.get('label', label), config, None, shape, options,
                              pair=item.get('pair'))
        build = lambda: _config_backbone(config, options)  # noqa: E731
    return row(item.get('label', label), build, (3, *(shape or (224, 224))),
               pair=item.get('pair'))


def load_suite_file(path: str, shape: Optional[Tuple[int, int]] = None) -> List[dict]:
    """The rows of a user's suite file (see the module docstring). ``shape``
    (H, W): the input of every row; default 224x224 for backbones and, for
    whole models, the config's own test resize of a 1333x800 (detection) or
    512x512 (segmentation) image."""
    if not osp.isfile(path):
        raise OptionError('suite', f'{{option}} {path}: no such suite or file; suites: '
                          f'{", ".join(SUITES)}, or a .py/.yaml file listing configs.')
    if path.endswith(('.yaml', '.yml')):
        from mmengine.fileio import load
        items = load(path)
    elif path.endswith('.py'):
        from mmengine.config import Config
        items = Config.fromfile(path).get('suite')
        items = items.to_dict() if hasattr(items, 'to_dict') else items
    else:
        raise OptionError('suite', f'{{option}} {path}: a suite file is .py (suite = [...]) or '
                          '.yaml.')
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


def suite_rows(suite: str, shape: Optional[Sequence[int]] = None,
               cfg_options: Optional[dict] = None) -> List[dict]:
    """The rows of the named suite, or of a suite file.

    ``shape`` (H, W): the input of a suite file's rows (default 224x224);
    for a named suite, an input other than the paper's (small ones for a
    quick check; a network made for one input size keeps it and says so).
    ``cfg_options``: overrides for the configs of a named suite's whole
    models (e.g. smaller ``nms_pre`` caps).
    """
    shape = None if shape is None else tuple(shape)
    if suite in MODEL_SUITES:
        return MODEL_SUITES[suite](shape, cfg_options)
    if cfg_options:
        if suite in SUITES:
            raise OptionError('cfg_options', f'{{option}} applies to the suites of whole models '
                              f'({", ".join(MODEL_SUITES)}); {suite} times bare networks.')
        raise OptionError('cfg_options', '{option} applies to the named suites of whole '
                          'models; in a suite file, give each entry its own cfg_options.')
    if suite in SUITES:
        return SUITES[suite](shape)
    return load_suite_file(suite, shape)


__all__ = ['SUITES', 'MODEL_SUITES', 'EXTRA_IMAGENET', 'FIXED_INPUT', 'COCO_MODELS',
           'LIGHT_BACKBONES', 'LIGHT_HEADS', 'REALTIME_MODELS', 'REALTIME_NOTES',
           'REALTIME_CAPS', 'StackedOperator', 'row', 'feature_layout',
           'set_test_scale', 'dense_config', 'light_backbone_cfg', 'suite_rows',
           'load_suite_file']
