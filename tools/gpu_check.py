"""One step of the GPU check: python tools/gpu_check.py backbone|models|report --out DIR.

scripts/gpu_check.sh runs the steps in order on a GPU machine; see --help.
"""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.gpu_check import gpu_check_main

if __name__ == '__main__':
    sys.exit(gpu_check_main())
