"""``tools/export_onnx.py``: export a config's backbone, segmentor or
whole detector (one-stage, or Faster/Mask R-CNN) to ONNX (optionally
int8), check it in onnxruntime and print a report."""
import argparse
from typing import Optional, Sequence

from mmengine.config import DictAction

from ..apis.config import CONFIG_HELP
from ..benchmark.formatting import format_export
from ..deploy.export import BLOCK_PATHS, ExportOptions, export_onnx
from ..deploy.quantize import ACTIVATION_TYPES, CALIBRATION_METHODS, QuantizeOptions
from ..utils.errors import option_flags, run_tool


# ----------------------------------------------------------------- export_onnx
def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description='Export a backbone, a whole segmentor or a whole detector (RTMDet, '
        'RetinaNet, Faster R-CNN, Mask R-CNN; decoding, NMS, RoIAlign and the mask head in the '
        'graph, standard operators only) to ONNX and check it with onnxruntime.')
    parser.add_argument('config', help=CONFIG_HELP)
    parser.add_argument('checkpoint', nargs='?', help='weights (default: random)')
    parser.add_argument('--out', required=True, help='ONNX file to write')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='traced input size (default 800 1344 detection, 512 512 '
                        'segmentation); a two-stage detector takes any size')
    parser.add_argument('--backbone-only', action='store_true',
                        help='export model.backbone (outputs feat0..feat3)')
    parser.add_argument('--normalized-input', action='store_true',
                        help='segmentor input is already normalized (default: 0-255 RGB)')
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic batch, height and width')
    parser.add_argument('--block-path', choices=BLOCK_PATHS, default='conv',
                        help='FasterNet block graph: conv (Split/Conv/Concat, default) or '
                        'matmul (the PyTorch fast path)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--no-verify', action='store_true', help='skip the onnxruntime check')
    parser.add_argument('--int8', action='store_true', help='quantise to int8 (QDQ) with '
                        'onnxruntime: --out is the int8 file, NAME.fp32.onnx the fp32 one')
    parser.add_argument('--calib', type=int, default=8, metavar='N',
                        help='calibration images from the config\'s training set through its '
                        'test pipeline (random ones, with a warning, when there is no data)')
    parser.add_argument('--calib-method', choices=CALIBRATION_METHODS, default='minmax')
    parser.add_argument('--per-tensor', action='store_true',
                        help='one weight scale per tensor (default: per output channel)')
    parser.add_argument('--activations', choices=ACTIVATION_TYPES, default='uint8')
    parser.add_argument('--exclude', nargs='+', default=[], metavar='NODE',
                        help='node names left in fp32')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser


def _export(argv: Optional[Sequence[str]]) -> None:
    args = export_parser().parse_args(argv)
    quantize = QuantizeOptions(
        calib=args.calib, calib_method=args.calib_method, per_channel=not args.per_tensor,
        activations=args.activations, exclude=args.exclude) if args.int8 else None
    options = ExportOptions(
        shape=args.shape, backbone_only=args.backbone_only, raw_input=not args.normalized_input,
        dynamic=args.dynamic, block_path=args.block_path, opset=args.opset,
        verify=not args.no_verify, int8=quantize)
    result = export_onnx(args.config, args.out, args.checkpoint, options, args.cfg_options)
    print(format_export(result))


def export_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/export_onnx.py``: export, check and print a report; exit 2 on
    bad input."""
    return run_tool(_export, argv,
                    option_flags(export_parser(), {'raw_input=False': '--normalized-input'}))


__all__ = ['export_main', 'export_parser']
