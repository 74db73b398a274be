"""ONNX export: python tools/export_onnx.py CONFIG [CHECKPOINT] --out FILE [options].

Exports the backbone (--backbone-only) or the whole Semantic FPN segmentor and
checks the file with onnxruntime; see --help.
"""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.export import export_main

if __name__ == '__main__':
    sys.exit(export_main())
