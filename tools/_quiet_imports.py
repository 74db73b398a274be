"""Warning filters every tool sets before it imports the package.

mmengine imports the deprecated ``pkg_resources`` (setuptools warns on that
import); the warning is not ours to fix and only clutters the tools' output.
The filter must be in place before mmengine is first imported, and importing
``fasternet_dense`` imports mmengine, so each tool imports this module first.
"""
import warnings

warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
