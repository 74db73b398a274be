"""ONNX export: python tools/export_onnx.py CONFIG [CHECKPOINT] --out FILE [options].

Exports the backbone (--backbone-only) or the whole Semantic FPN segmentor and
checks the file with onnxruntime; see --help.
"""
import sys
import warnings

# mmengine imports the deprecated pkg_resources; its warning is not ours to fix.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from fasternet_dense.inference_cli import export_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(export_main())
