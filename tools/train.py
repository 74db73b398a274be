"""Train a detector or segmentor: python tools/train.py CONFIG [options]."""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.train import train_main

if __name__ == '__main__':
    sys.exit(train_main())
