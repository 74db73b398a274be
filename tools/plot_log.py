"""Plot losses and metrics of a run:
python tools/plot_log.py WORK_DIR_OR_SCALARS_JSON [--keys loss coco/bbox_mAP ...] [--out FILE.png]
"""
import argparse
import os.path as osp
import sys
import warnings

# mmengine imports the deprecated pkg_resources; its warning is not ours to fix.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from fasternet_dense.errors import FasterNetDenseError  # noqa: E402
from fasternet_dense.logplot import plot_scalars  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description='Plot training curves from mmengine\'s '
                                     'vis_data/scalars.json.')
    parser.add_argument('path', help='work dir (all its runs are merged), a run\'s '
                        'timestamp folder, or a scalars.json file')
    parser.add_argument('--keys', nargs='+', help='curves to plot (default: every loss, and '
                        'coco/bbox_mAP, coco/segm_mAP or mIoU if logged, else every '
                        'validation metric), e.g. loss coco/bbox_mAP mIoU')
    parser.add_argument('--out', help='PNG to write (default: curves.png in the work dir, '
                        'or beside the scalars.json file)')
    args = parser.parse_args()
    out = args.out or osp.join(args.path if osp.isdir(args.path) else osp.dirname(args.path),
                               'curves.png')
    try:
        plot_scalars(args.path, out, args.keys)
    except FasterNetDenseError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
