"""Inference speed: python tools/benchmark.py CONFIG [--vs [OTHER]] [options].

Times the whole model's test_step (or --backbone-only); see --help.
"""
import sys
import warnings

# mmengine imports the deprecated pkg_resources; its warning is not ours to fix.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from fasternet_dense.inference_cli import benchmark_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(benchmark_main())
