"""Parameters and FLOPs: python tools/get_flops.py CONFIG [...] [--shape H W] [--all-seg]."""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.flops import flops_main

if __name__ == '__main__':
    sys.exit(flops_main())
