"""Plot losses and metrics of a run:
python tools/plot_log.py WORK_DIR_OR_SCALARS_JSON [--keys loss coco/bbox_mAP ...] [--out FILE.png]
"""
import sys
import warnings

# mmengine imports the deprecated pkg_resources; its warning is not ours to fix.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from fasternet_dense.logplot import plot_log_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(plot_log_main())
