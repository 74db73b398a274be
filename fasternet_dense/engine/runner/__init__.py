from .crash_safe_runner import CrashSafeRunner
from .work_dir_lock import WorkDirLock

__all__ = ['CrashSafeRunner', 'WorkDirLock']
