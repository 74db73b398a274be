"""Plot losses and metrics of a run:
python tools/plot_log.py WORK_DIR_OR_SCALARS_JSON [--keys loss coco/bbox_mAP ...] [--out FILE.png]
"""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.plot_log import plot_log_main

if __name__ == '__main__':
    sys.exit(plot_log_main())
