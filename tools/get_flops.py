"""Parameters and FLOPs: python tools/get_flops.py CONFIG [...] [--shape H W] [--all-seg]."""
import sys
import warnings

# mmengine imports the deprecated pkg_resources; its warning is not ours to fix.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from fasternet_dense.inference_cli import flops_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(flops_main())
