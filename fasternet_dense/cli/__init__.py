"""The tools' command lines: each ``*_main(argv)`` parses, calls the
package and prints; ``tools/*.py`` are one-line wrappers over them."""
from .benchmark import benchmark_main
from .export import export_main
from .flops import flops_main
from .test import test_main
from .train import train_main

__all__ = ['benchmark_main', 'export_main', 'flops_main', 'test_main', 'train_main']
