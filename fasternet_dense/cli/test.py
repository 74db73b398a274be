"""``tools/test.py``: evaluate a checkpoint (or an exported ONNX file) with
the config's test set and metrics."""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from ..apis.checks import check_checkpoint_file, check_checkpoint_fits, check_model_config
from ..apis.config import CONFIG_HELP, build_runner, load_config
from ..apis.inference import AMP_DTYPES, amp_emulated, autocast_network
from ..datasets.paths import check_datasets
from ..deploy.onnx_model import BACKENDS, onnx_model_cfg
from ..utils.errors import ConfigError, run_tool
from ..utils.tasks import task_of
from .train import _common_args


# ----------------------------------------------------------------------- test
def test_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint.')
    parser.add_argument('config', help=CONFIG_HELP)
    parser.add_argument('checkpoint', help='checkpoint file (this toolkit\'s, or an '
                        'official mmdet 2.x FasterNet one), or a whole-model ONNX file '
                        '(fp32 or int8, from tools/export_onnx.py) to run in --backend')
    parser.add_argument('--show', action='store_true',
                        help='show each prediction in a window (needs a display)')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='with --show: seconds each picture stays (default 2)')
    parser.add_argument('--show-dir', help='write pictures of the predictions here')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation: the '
                        'config\'s tta_model around its model, fed by its tta_pipeline')
    parser.add_argument('--out', help='detection: dump raw results to this .pkl file; '
                        'segmentation: write predicted label maps into this folder')
    parser.add_argument('--backend', choices=list(BACKENDS), default='onnxruntime',
                        help='the runtime of an ONNX file (default: onnxruntime)')
    parser.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32',
                        help='OpenVINO\'s inference precision for an ONNX file: bf16 runs '
                        'its float parts in bfloat16 where the CPU has it (an int8 file '
                        'stays int8)')
    parser.add_argument('--allow-partial-checkpoint', action='store_true',
                        help='evaluate even when the checkpoint lacks weights of the neck or '
                        'heads (they stay random)')
    parser.add_argument('--amp', choices=list(AMP_DTYPES), help='run the network (backbone, '
                        'neck, heads) under autocast in this dtype; post-processing stays fp32')
    _common_args(parser)
    return parser


def _enable_visualization(cfg: Config, show_dir: Optional[str], show: bool = False,
                          wait_time: float = 2) -> None:
    """``--show-dir`` / ``--show``, as mmdet's and mmseg's test tools set the
    config's visualization hook."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise ConfigError('--show and --show-dir need default_hooks.visualization in the '
                          'config.')
    hook['draw'] = True
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if show_dir and task_of(cfg) == 'mmdet':
        hook['test_out_dir'] = osp.abspath(show_dir)
    elif show_dir:
        cfg.visualizer['save_dir'] = osp.abspath(show_dir)
    if task_of(cfg) == 'mmseg':
        hook['interval'] = 1


def check_tta(cfg: Config) -> None:
    """One line where the config has no test-time augmentation to run."""
    missing = [k for k in ('tta_model', 'tta_pipeline') if not cfg.get(k)]
    if missing:
        raise ConfigError(f'--tta needs {" and ".join(missing)} in the config (see '
                          'configs/_base_/semantic_fpn_ade20k.py or rtmdet_l_coco.py).')


def enable_tta(cfg: Config) -> None:
    """``--tta``: the config's ``tta_model`` wraps its model and its
    ``tta_pipeline`` replaces the test pipeline, as mmdet's and mmseg's
    test tools do; one line where the config has neither."""
    check_tta(cfg)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.model = dict(cfg.tta_model, module=cfg.model)


def prepare_test_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if not osp.isfile(args.checkpoint):
        raise ConfigError(f'Checkpoint {args.checkpoint} not found; pass the .pth file '
                          'written by tools/train.py (work_dirs/...), or an ONNX file from '
                          'tools/export_onnx.py.')
    onnx_file = args.checkpoint if args.checkpoint.endswith('.onnx') else None
    if onnx_file and args.amp:
        raise ConfigError('--amp autocasts a PyTorch model; an ONNX file runs in the precision '
                          'it was exported in: leave out --amp.')
    # The exported network in onnxruntime, the config's model around it
    # (a file that does not fit is refused before the data is looked at).
    if not onnx_file and (args.backend != 'onnxruntime' or args.precision != 'fp32'):
        raise ConfigError('--backend and --precision choose how an ONNX file runs; for a '
                          '.pth checkpoint use --amp bf16.')
    onnx_model = onnx_model_cfg(cfg, onnx_file, args.backend, args.precision) \
        if onnx_file else None
    cfg.load_from = None if onnx_file else args.checkpoint
    cfg.resume = False
    if args.tta:  # a config error: before the files are looked at
        if onnx_file:
            raise ConfigError('--tta runs the PyTorch model; evaluate the .pth checkpoint.')
        check_tta(cfg)
    if args.show_dir or args.show:
        _enable_visualization(cfg, args.show_dir, args.show, args.wait_time)
    if args.out:
        if task_of(cfg) == 'mmdet':
            if not args.out.endswith(('.pkl', '.pickle')):
                raise ConfigError(f'--out {args.out} must end with .pkl for detection.')
            evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
                cfg.test_evaluator]
            cfg.test_evaluator = [*evaluators, dict(type='DumpDetResults',
                                                    out_file_path=args.out)]
        else:
            cfg.test_evaluator['output_dir'] = args.out
            cfg.test_evaluator['keep_results'] = True
    check_model_config(cfg)  # config errors first, then the files
    if not onnx_file:
        check_checkpoint_file(args.checkpoint, 'tools/test.py')
    check_datasets(cfg, ('test_dataloader', ))
    if args.tta:
        enable_tta(cfg)
    if onnx_model:
        cfg.model = onnx_model
        # The file holds the weights it was exported with (the averaged ones
        # where the config keeps an EMA); no hook swaps weights in.
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or []
                            if 'EMAHook' not in str(h.get('type'))]
    return cfg


def _test(argv: Optional[Sequence[str]]) -> None:
    args = test_parser().parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = prepare_test_config(args)
    runner = build_runner(cfg)
    if cfg.get('load_from') and not args.allow_partial_checkpoint:
        check_checkpoint_fits(getattr(runner.model, 'module', runner.model), cfg.load_from)
    if args.amp:
        _autocast(getattr(runner.model, 'module', runner.model), args.amp, runner.logger)
    metrics = runner.test()
    if runner.rank == 0:
        print(format_metrics(metrics))


def _autocast(model, amp: str, logger) -> None:
    """``--amp``: the network under autocast, post-processing in fp32. Where
    the device would only emulate ``amp``, a warning says so and the test
    goes on: the metrics are still the dtype's, only the run is slower."""
    device = str(next(model.parameters()).device)
    emulated = amp_emulated(device, amp)
    if emulated:
        logger.warning(f'--amp {amp}: {emulated}; the test goes on, its metrics are '
                       f'{amp}\'s.')
    names = autocast_network(model, amp, device)
    logger.info(f'--amp {amp}: autocast in {", ".join(names)}; post-processing in fp32')


def format_metrics(metrics: dict) -> str:
    """A two-column table of the evaluator's scalar metrics."""
    rows = [(k, f'{v:.4f}' if isinstance(v, float) else str(v)) for k, v in metrics.items()
            if isinstance(v, (int, float, str))]
    width = max((len(k) for k, _ in rows), default=0)
    return '\n'.join(f'{k:<{width}}  {v}' for k, v in rows)


def test_main(argv: Optional[Sequence[str]] = None) -> int:
    return run_tool(_test, argv)
