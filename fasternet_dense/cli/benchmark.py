"""``tools/benchmark.py``: time a config's model (against another, against
its ONNX exports) or a suite of networks; print the table, and bad input
ends in one ``error: ...`` line and exit code 2."""
import argparse
import json
from typing import Optional, Sequence

from mmengine.config import DictAction

from ..apis.config import CONFIG_HELP, config_file
from ..apis.inference import AMP_DTYPES, check_counts, check_shape
from ..benchmark.benchmark import benchmark, benchmark_onnx
from ..benchmark.formatting import format_benchmark, format_onnx_benchmark, format_suite
from ..benchmark.plots import plot_suite
from ..benchmark.suite_runner import run_suite
from ..benchmark.suites import SUITES, suite_rows
from ..deploy.onnx_model import BACKENDS
from ..utils.errors import ConfigError, option_flags, run_tool
from ..utils.fileio import atomic_write_text

SEG_CONFIGS = tuple(
    config_file(f'semfpn_fasternet_{arch}_ade20k')
    for arch in ('t0', 't1', 't2', 's', 'm', 'l'))


# ------------------------------------------------------------------ benchmark
def benchmark_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Time a model\'s test_step (or its backbone) on CPU or GPU, optionally '
        'against a second model run interleaved in the same process.')
    parser.add_argument('config', nargs='?', help=f'model A: {CONFIG_HELP}')
    parser.add_argument('--suite', metavar='NAME|FILE', help='time a set of networks '
                        f'round-robin instead: {", ".join(SUITES)}, or a .py/.yaml file '
                        'listing configs, peers or backbones')
    parser.add_argument('--plot', metavar='PNG', help='with --suite: write the picture '
                        '(latency against FLOPs; GFLOP/s per operator for paper-operators)')
    parser.add_argument('--checkpoint', help='weights of A (default: random)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides for A, e.g. model.backbone.fast_inference=False '
                        '(with a named --suite: for every whole model)')
    parser.add_argument('--vs', nargs='?', const='', metavar='OTHER_CONFIG',
                        help='model B; without a value, A\'s config again (use with '
                        '--vs-cfg-options)')
    parser.add_argument('--vs-checkpoint', help='weights of B (default: A\'s for the same '
                        'config, else random; equal layouts get A\'s random weights)')
    parser.add_argument('--vs-cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides for B')
    parser.add_argument('--vs-plain', action='store_true', help='run B as the plain fp32 '
                        'model: no --fuse, --channels-last or --amp')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument('--batch-size', type=int, help='images per call (default 1; suites: 1 '
                        'on CPU, 32 on GPU for backbones)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='backbone input (default 224 224) or synthetic image size '
                        '(default 800 1333 detection, 512 512 segmentation; seeds-light and '
                        'suite files: every row\'s input)')
    parser.add_argument('--iters', type=int, help='timed iterations per model (default 50; '
                        'suites: 10)')
    parser.add_argument('--warmup', type=int, help='untimed iterations per model (default 10; '
                        'suites: 2)')
    parser.add_argument('--fuse', action='store_true', help='fold batch norms into convs')
    parser.add_argument('--no-fuse', action='store_true', help='with --suite: keep batch norms '
                        '(suites fold them, as the paper does)')
    parser.add_argument('--amp', choices=list(AMP_DTYPES), help='autocast dtype of the '
                        'network (post-processing stays fp32); refused where the processor '
                        'would only emulate it')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last weights and backbone input')
    parser.add_argument('--backbone-only', action='store_true',
                        help='time model.backbone on random tensors')
    parser.add_argument('--synthetic', action='store_true',
                        help='synthetic images even when the test set exists')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (default: torch\'s)')
    parser.add_argument('--peak', action='store_true', help='also time a large matrix '
                        'product as the reference rate and print what it bounds '
                        '(with --backbone-only)')
    parser.add_argument('--onnx', nargs='+', metavar='FILE', help='time these ONNX files '
                        '(fp32, int8) in each --backend interleaved with CONFIG\'s PyTorch model '
                        '(folded, fast path; with --amp also under autocast; --backbone-only '
                        'for a backbone export), same threads')
    parser.add_argument('--backend', nargs='+', choices=list(BACKENDS), default=['onnxruntime'],
                        help='with --onnx: the runtimes to time each file in (default '
                        'onnxruntime)')
    parser.add_argument('--precision', nargs='+', choices=['fp32', 'bf16'], default=['fp32'],
                        help='with --onnx: OpenVINO\'s inference precisions to time each file '
                        'in (onnxruntime runs fp32 only); bf16 where the CPU has it')
    parser.add_argument('--json', metavar='FILE', help='write all numbers and machine info')
    return parser


def _write_json(result: dict, path: Optional[str], quiet: bool = False) -> None:
    """``--json FILE``: every number and the machine, written atomically
    (a suite rewrites it after every round, so a stopped run keeps what it
    timed)."""
    if path:
        atomic_write_text(json.dumps(result, indent=1, default=str), path)
        if not quiet:
            print(f'wrote {path}')


def _suite(args: argparse.Namespace) -> None:
    if args.config or args.vs is not None:
        raise ConfigError('--suite times its own networks; give either a CONFIG (with --vs) '
                          'or --suite.')
    if args.shape and args.suite.startswith('paper-'):
        raise ConfigError(f"--shape does not apply to {args.suite}: its inputs are the paper's.")
    rows = suite_rows(args.suite, args.shape, args.cfg_options)
    result = run_suite(args.suite, rows, device=args.device, threads=args.threads,
                       batch_size=args.batch_size, iters=args.iters or 10,
                       warmup=2 if args.warmup is None else args.warmup,
                       fuse=not args.no_fuse,
                       on_round=(lambda partial: _write_json(partial, args.json, quiet=True))
                       if args.json else None)
    print(format_suite(result))
    _write_json(result, args.json)
    if args.plot:
        plot_suite(result, args.plot)
        print(f'wrote {args.plot}')


def _benchmark(argv: Optional[Sequence[str]]) -> None:
    args = benchmark_parser().parse_args(argv)
    check_counts(threads=args.threads, iters=args.iters, warmup=args.warmup,
                 batch_size=args.batch_size)
    check_shape(args.shape)
    if args.suite:
        return _suite(args)
    if not args.config:
        raise ConfigError('benchmark needs a CONFIG or --suite NAME.')
    if args.onnx:
        if args.vs is not None or args.device != 'cpu':
            raise ConfigError('--onnx compares ONNX files with CONFIG on CPU; leave out --vs '
                              'and --device.')
        result = benchmark_onnx(args.config, args.onnx, checkpoint=args.checkpoint,
                                cfg_options=args.cfg_options, backbone_only=args.backbone_only,
                                shape=args.shape, iters=args.iters or 50,
                                warmup=10 if args.warmup is None else args.warmup,
                                threads=args.threads, backends=args.backend,
                                precisions=args.precision, amp=args.amp)
        print(format_onnx_benchmark(result))
        return _write_json(result, args.json)
    if args.backend != ['onnxruntime'] or args.precision != ['fp32']:
        raise ConfigError('--backend and --precision choose how --onnx files run; a PyTorch '
                          'model takes --amp.')
    if args.plot or args.no_fuse:
        raise ConfigError('--plot and --no-fuse go with --suite.')
    vs = None if args.vs is None else (args.vs or args.config)
    result = benchmark(
        args.config, checkpoint=args.checkpoint, cfg_options=args.cfg_options, vs=vs,
        vs_checkpoint=args.vs_checkpoint, vs_cfg_options=args.vs_cfg_options,
        vs_plain=args.vs_plain, device=args.device, batch_size=args.batch_size or 1,
        shape=args.shape, iters=args.iters or 50,
        warmup=10 if args.warmup is None else args.warmup, fuse=args.fuse, amp=args.amp,
        channels_last=args.channels_last, backbone_only=args.backbone_only,
        synthetic=args.synthetic, threads=args.threads, peak=args.peak)
    print(format_benchmark(result))
    _write_json(result, args.json)


def benchmark_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/benchmark.py``: print the timing table; exit 2 on bad input."""
    return run_tool(_benchmark, argv, option_flags(benchmark_parser()))


__all__ = ['benchmark_main', 'benchmark_parser']
