"""What a data check found, kept in the work dir so that a resume or a
relaunch re-checks only what changed.

A cache file belongs to one dataset check: its ``key`` holds the absolute
paths of the annotation file and folders and the options the result depends
on (classes, image reading, ...); a file with another key, of another
version or that cannot be parsed is ignored and replaced. Inside, each
checked file is remembered with its *stamp*, its size and modification time
in nanoseconds, and the result found for it; a file whose stamp differs
from the remembered one is checked again. The file is JSON, written
atomically, and holds no code or pickled objects.
"""
import gc
import json
import os
from typing import Any, Dict, List, Optional

import orjson

from ...utils.fileio import AtomicWriter

CACHE_VERSION = 1


def file_stamp(path: str) -> Optional[List[int]]:
    """``[size, mtime_ns]`` of ``path``, or None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


class CheckCache:
    """The remembered results of one dataset check.

    Args:
        path: the cache file; None keeps nothing (``data_check.cache=False``).
        key: what the results depend on besides the files' stamps.

    Attributes:
        sections: ``name -> dict``, loaded from the file when its key and
            version match, else empty; change them and call :meth:`save`.
        loaded: whether a matching file was read.
    """

    def __init__(self, path: Optional[str], key: Dict[str, Any]):
        self.path = path
        self.key = json.loads(json.dumps(key))  # as it reads back from the file
        self.sections: Dict[str, dict] = {}
        self.loaded = False
        if path and os.path.isfile(path):
            enabled = gc.isenabled()
            gc.disable()  # hundreds of thousands of small lists
            try:
                with open(path, 'rb') as f:
                    stored = orjson.loads(f.read())
            except (OSError, ValueError):
                stored = None
            finally:
                if enabled:
                    gc.enable()
            if (isinstance(stored, dict) and stored.get('version') == CACHE_VERSION
                    and stored.get('key') == self.key
                    and isinstance(stored.get('sections'), dict)):
                self.sections = stored['sections']
                self.loaded = True

    def section(self, name: str) -> dict:
        return self.sections.setdefault(name, {})

    def save(self) -> None:
        if not self.path:
            return
        with AtomicWriter(self.path, 'wb') as f:
            f.write(orjson.dumps(dict(version=CACHE_VERSION, key=self.key,
                                      sections=self.sections)))
