"""Inference speed: python tools/benchmark.py CONFIG [--vs [OTHER]] [options].

Times the whole model's test_step (or --backbone-only); see --help.
"""
import sys

import _quiet_imports  # noqa: F401  (first: filters warnings raised while importing)
from fasternet_dense.cli.benchmark import benchmark_main

if __name__ == '__main__':
    sys.exit(benchmark_main())
