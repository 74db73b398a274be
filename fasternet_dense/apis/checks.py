"""Checks that run before a model or dataset is built, so a missing file is
one clear line instead of a traceback twenty minutes into a run."""
import os
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.config import Config, ConfigDict

from ..models.backbones.fasternet import PRETRAINED_URL
from ..utils.config_utils import type_name
from ..utils.errors import ConfigError, MissingFileError
from ..utils.fileio import is_local


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
    if not path or not is_local(path) or osp.isfile(path):
        return
    where = 'model.pretrained' if (cfg.model.get('pretrained') and not (
        cfg.model.get('backbone') or {}).get('init_cfg')) else 'model.backbone.init_cfg'
    # The training code names the files `..-epoch=299-val_acc1=81.2840.pth`;
    # the release page serves them with '.' for '='.
    original = osp.join(osp.dirname(path), osp.basename(path).replace('epoch.', 'epoch=')
                        .replace('val_acc1.', 'val_acc1='))
    if original != path and osp.isfile(original):
        raise MissingFileError(
            f'ImageNet checkpoint for the backbone not found at {path}, but {original} '
            f'exists: rename it, or pass --cfg-options {where}.checkpoint={original}.')
    raise MissingFileError(
        f'ImageNet checkpoint for the backbone not found at {path}. Download '
        f'{PRETRAINED_URL}{osp.basename(path)} to that path, or train from scratch '
        f'with --cfg-options {where}=None.')


# ------------------------------------------------------------ model config
# Necks that take one input per backbone output, with in_channels listing them.
_PER_OUTPUT_NECKS = ('FPN', 'PAFPN', 'NASFPN', 'FPN_CARAFE', 'ChannelMapper', 'MultiLevelNeck')


def _cfg_list(values) -> str:
    """A list as ``--cfg-options`` takes it: ``[40,80,160,320]``."""
    return '[' + ','.join(str(v) for v in values) + ']'


def fasternet_outputs(backbone: dict) -> Tuple[str, List[int]]:
    """``(name, channels)`` of the outputs of a FasterNet backbone config, in
    the order the backbone returns them (ascending stage).

    The backbone is constructed on the ``meta`` device (no memory, no
    weights), so its own argument checks run and raise :class:`ConfigError`.
    """
    import torch

    from ..models.backbones.fasternet import FasterNet
    args = {k: v for k, v in backbone.items() if k != 'type'}
    try:
        with torch.device('meta'):
            net = FasterNet(**args)
    except TypeError as err:
        raise ConfigError(f'model.backbone: {err}; see FasterNet\'s arguments in '
                          'fasternet_dense/models/backbones/fasternet.py.') from None
    name = 'FasterNet-' + (net.arch_name.upper() if net.arch_name != 'custom' else 'custom')
    return name, [net.channels[i] for i in sorted(net.out_indices)]


def _check_inputs(where: str, given, expected: List[int], name: str) -> None:
    if list(given) != list(expected):
        raise ConfigError(
            f'{where} {list(given)} do not match {name} outputs {list(expected)}; set '
            f'{where}={_cfg_list(expected)} (or change the backbone arch / out_indices).')


def _check_head(where: str, head: dict, outputs: List[int], name: str) -> None:
    in_channels, in_index = head.get('in_channels'), head.get('in_index', -1)
    if in_channels is None:
        return
    if isinstance(in_channels, (list, tuple)):
        index = list(in_index) if isinstance(in_index, (list, tuple)) else list(
            range(len(in_channels)))
        if any(not -len(outputs) <= i < len(outputs) for i in index):
            raise ConfigError(f'{where}.in_index {index} is out of range for the '
                              f'{len(outputs)} outputs of {name}.')
        _check_inputs(f'{where}.in_channels', in_channels, [outputs[i] for i in index], name)
    elif isinstance(in_index, int):
        if not -len(outputs) <= in_index < len(outputs):
            raise ConfigError(f'{where}.in_index {in_index} is out of range for the '
                              f'{len(outputs)} outputs of {name}.')
        if in_channels != outputs[in_index]:
            raise ConfigError(
                f'{where}.in_channels {in_channels} does not match {name} output '
                f'{in_index} ({outputs[in_index]} channels); set '
                f'{where}.in_channels={outputs[in_index]}.')


def check_model_config(cfg: Config) -> None:
    """Check a FasterNet backbone's arguments (arch, out_indices,
    frozen_stages, ...) and that the module reading its outputs expects
    their channels: ``model.neck.in_channels`` for FPN-like necks, or, with
    no neck, the ``in_channels`` / ``in_index`` of mmseg's decode and
    auxiliary heads. Raises :class:`ConfigError` naming the values to set.
    Other backbones are not checked."""
    model = cfg.get('model') or {}
    backbone = model.get('backbone') or {}
    if type_name(backbone.get('type')) != 'FasterNet':
        return
    name, outputs = fasternet_outputs(backbone)
    neck = model.get('neck')
    if isinstance(neck, (list, tuple)):
        neck = neck[0] if neck else None
    if neck:
        in_channels = neck.get('in_channels')
        if type_name(neck.get('type')) in _PER_OUTPUT_NECKS and isinstance(
                in_channels, (list, tuple)):
            _check_inputs('model.neck.in_channels', in_channels, outputs, name)
        return
    for key in ('decode_head', 'auxiliary_head'):
        heads = model.get(key)
        if not heads:
            continue
        if isinstance(heads, (list, tuple)):
            for i, head in enumerate(heads):
                _check_head(f'model.{key}.{i}', head, outputs, name)
        else:
            _check_head(f'model.{key}', heads, outputs, name)


# ------------------------------------------------------------------ resume
def check_resume(cfg: Config) -> None:
    """Settle the checkpoint a resumed run starts from, before anything is
    built.

    With an explicit checkpoint (``--resume PATH``), raise
    :class:`MissingFileError` if it is missing, truncated or corrupt. With
    automatic resume, pick it with
    :func:`fasternet_dense.engine.runner.checkpoints.find_resumable_checkpoint` (which warns
    and falls back to an older complete checkpoint, or raises) and set
    ``cfg.load_from`` to it; leftover temporary files of a save that was
    killed are removed.
    """
    from ..engine.runner.checkpoints import checkpoint_problem, find_resumable_checkpoint
    from ..utils.fileio import remove_stale_temp_files
    if not cfg.get('resume'):
        return
    path = cfg.get('load_from')
    if path:
        if not is_local(path):
            return
        problem = checkpoint_problem(path)
        if problem:
            raise MissingFileError(f'Cannot resume from {path}: the checkpoint is {problem}. '
                                   'Pass a complete checkpoint, or use --resume with no value '
                                   'to take the newest complete one in the work dir.')
        return
    if int(os.environ.get('RANK', '0')) == 0:
        remove_stale_temp_files(cfg.work_dir)
    found = find_resumable_checkpoint(cfg.work_dir)
    if found:
        cfg.load_from = found


# The kind of model a checkpoint's top-level parts say it is from.
_CHECKPOINT_KINDS = (
    ({'roi_head'}, 'a two-stage detector (Mask R-CNN-like: rpn_head, roi_head)'),
    ({'decode_head'}, 'a segmentor (decode_head)'),
    ({'bbox_head'}, 'a one-stage detector (bbox_head)'),
)


def check_checkpoint_file(path: str, use: str) -> None:
    """One line for a checkpoint file that is missing, empty, truncated or
    corrupt, before anything loads it (``use``: what it was given for, e.g.
    ``'tools/test.py'`` or ``'load_from'``); URLs are left to the loader."""
    from ..engine.runner.checkpoints import checkpoint_problem
    if not is_local(path):
        return
    problem = checkpoint_problem(path)
    if problem == 'missing':
        raise MissingFileError(f'Checkpoint {path} ({use}) not found.')
    if problem and problem.startswith('not a checkpoint'):
        raise MissingFileError(f'{path} ({use}) is {problem}; pass a .pth file written by '
                               'tools/train.py or a FasterNet release checkpoint.')
    if problem and problem.startswith('refused by safe loading'):
        from ..utils.checkpoint import safe_torch_load
        safe_torch_load(path, map_location='cpu')  # raises the full explanation
    if problem:
        raise MissingFileError(f'Checkpoint {path} ({use}) is {problem} and cannot be loaded; '
                               'pass a complete file (a run killed while saving keeps the '
                               'previous checkpoint beside it in its work dir).')


def _parts(keys) -> dict:
    """Key count per top-level part (``backbone``, ``neck``, ...)."""
    parts = {}
    for key in keys:
        part = key.split('.', 1)[0]
        parts[part] = parts.get(part, 0) + 1
    return parts


def checkpoint_kind(state_dict: dict) -> str:
    """What a checkpoint's top-level parts say it holds, in words."""
    parts = set(_parts(state_dict))
    for needed, kind in _CHECKPOINT_KINDS:
        if needed <= parts:
            return kind
    if 'neck' not in parts:
        return 'a backbone alone (an ImageNet checkpoint, say)'
    return 'a model with parts ' + ', '.join(sorted(parts))


def check_checkpoint_fits(model, path: str) -> None:
    """Refuse, in one line, a checkpoint that lacks weights of the model's
    parts other than the backbone (neck, heads): evaluating it would score
    random layers. Backbone keys are left out of the comparison, since
    official and timm layouts are converted while they load."""
    from ..utils.checkpoint import safe_torch_load
    if not is_local(path):
        return
    loaded = safe_torch_load(path, map_location='cpu')
    state = loaded.get('state_dict', loaded) if isinstance(loaded, dict) else {}
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    own = {k: v for k, v in model.state_dict().items() if not k.startswith('backbone.')}
    # Missing, or there with another shape (loaders skip those with a warning).
    unfit = sorted(k for k, v in own.items()
                   if k not in state or getattr(state[k], 'shape', None) != v.shape)
    if not unfit:
        return
    by_part = _parts(unfit)
    total = _parts(own)
    listed = ', '.join(f'{part} ({n} of {total[part]})' for part, n in sorted(by_part.items()))
    raise ConfigError(
        f'Checkpoint {path} lacks {len(unfit)} of the {len(own)} weights of this model\'s '
        f'neck and heads (missing or of another shape): {listed}; it looks like '
        f'{checkpoint_kind(state)}. Pass a checkpoint of this config, or '
        '--allow-partial-checkpoint to evaluate it anyway.')
