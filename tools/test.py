"""Evaluate a checkpoint: python tools/test.py CONFIG CHECKPOINT [options]."""
import sys
import warnings

# mmengine imports the deprecated pkg_resources; its warning is not ours to fix.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from fasternet_dense.cli import test_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(test_main())
