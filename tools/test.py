"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.test import test_main

if __name__ == '__main__':
    sys.exit(test_main())
