"""``tools/train.py``: train a detector or segmentor; the config's
``default_scope`` (``mmdet`` or ``mmseg``) decides the task. Before anything
is built the config, the files and the data are checked, and the work dir is
locked for the length of the run."""
import argparse
import contextlib
import os
from typing import Optional, Sequence

import torch
from mmengine.config import Config, DictAction

from ..apis.checks import check_checkpoint_file, check_model_config, check_pretrained, check_resume
from ..apis.config import CONFIG_HELP, build_runner, load_config
from ..datasets.datacheck import check_data_once
from ..datasets.paths import check_datasets
from ..engine.runner.work_dir_lock import WorkDirLock
from ..utils.errors import ConfigError, run_tool


def _common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (pytorch for torchrun)')
    # torch.distributed.launch passes --local-rank / --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


# ---------------------------------------------------------------------- train
def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Train a detector or segmentor.')
    parser.add_argument('config', help=CONFIG_HELP)
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or with no value from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision (CUDA only)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the real batch size (GPUs x '
                        'batch per GPU) over the config\'s auto_scale_lr.base_batch_size, '
                        'as mmdet\'s tools/train.py does')
    _common_args(parser)
    return parser


def enable_auto_scale_lr(cfg: Config) -> None:
    """``--auto-scale-lr``: switch on the config's ``auto_scale_lr`` (mmengine's
    Runner then multiplies the learning rate by real batch / base batch), or
    stop in one line where the config does not say its base batch size."""
    scale = cfg.get('auto_scale_lr')
    if not scale or 'base_batch_size' not in scale:
        raise ConfigError('--auto-scale-lr needs auto_scale_lr = dict(enable=False, '
                          'base_batch_size=N) in the config: N is the total batch its learning '
                          'rate was set for.')
    cfg.auto_scale_lr.enable = True


def prepare_train_config(args: argparse.Namespace,
                         held: Optional[contextlib.ExitStack] = None) -> Config:
    """The training config with the command line applied and checked.

    With ``held``, the work dir's lock (:class:`WorkDirLock`) is taken on
    rank 0 before anything is written there, and released when ``held``
    closes."""
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        if not torch.cuda.is_available():
            raise ConfigError('--amp needs a CUDA GPU; run without --amp on CPU.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    check_model_config(cfg)
    check_pretrained(cfg)
    if cfg.get('load_from') and not cfg.get('resume'):
        check_checkpoint_file(cfg.load_from, 'load_from')
    loaders = ('train_dataloader', ) + (('val_dataloader', ) if cfg.get('val_cfg') else ())
    check_datasets(cfg, loaders)
    check_data_once(cfg, loaders, first=None if held is None else (
        lambda: held.enter_context(WorkDirLock(cfg.work_dir))))
    check_resume(cfg)
    return cfg


def _train(argv: Optional[Sequence[str]]) -> None:
    args = train_parser().parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    with contextlib.ExitStack() as held:
        cfg = prepare_train_config(args, held)
        runner = build_runner(cfg)
        runner.train()


def train_main(argv: Optional[Sequence[str]] = None) -> int:
    return run_tool(_train, argv)
