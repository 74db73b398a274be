"""Train a detector or segmentor: python tools/train.py CONFIG [options]."""
import sys

from fasternet_dense.cli import train_main

if __name__ == '__main__':
    sys.exit(train_main())
