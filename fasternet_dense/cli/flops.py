"""``tools/get_flops.py``: parameters and FLOPs of configs, counted by
mmengine's analysis tools."""
import argparse
from typing import Optional, Sequence

from mmengine.config import DictAction

from ..apis.config import CONFIG_HELP
from ..benchmark.complexity import complexity
from ..benchmark.formatting import FLOPS_NOTE, format_complexity, format_seg_peers
from ..utils.errors import ConfigError, option_flags, run_tool
from .benchmark import SEG_CONFIGS


# ------------------------------------------------------------------- get_flops
def flops_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of the backbone and the whole model.')
    parser.add_argument('configs', nargs='*', metavar='CONFIG',
                        help=f'one or more: {CONFIG_HELP}')
    parser.add_argument('--all-seg', action='store_true', help='the six '
                        'semfpn_fasternet_*_ade20k.py configs, with the published peers')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='network input (default 800 1280 detection, 512 512 segmentation)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser


def _flops(argv: Optional[Sequence[str]]) -> None:
    args = flops_parser().parse_args(argv)
    configs = list(args.configs) + (list(SEG_CONFIGS) if args.all_seg else [])
    if not configs:
        raise ConfigError('get_flops needs a CONFIG or --all-seg.')
    rows = [complexity(c, args.shape, args.cfg_options) for c in configs]
    print(format_complexity(rows))
    if any(r['task'] == 'mmseg' for r in rows):
        print('\n' + format_seg_peers())
    print('\n' + FLOPS_NOTE)


def flops_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/get_flops.py``: print the complexity table; exit 2 on bad input."""
    return run_tool(_flops, argv, option_flags(flops_parser()))


__all__ = ['flops_main', 'flops_parser']
