"""Reading images and label maps the way the checks need: whether a file is
a complete image, its size, and a label map's values.

With ``image_read='decode'`` every image is fully decoded with Pillow,
which (unlike OpenCV) fails on truncated files; with ``'header'`` only the
header is parsed (format, size) and the file's end is checked for the JPEG
end marker or the PNG ``IEND`` chunk, which catches truncation at a fraction
of the cost. ``'auto'`` decodes sets of up to ``decode_limit`` images and
reads headers beyond.
"""
import os
from typing import Optional, Tuple

import numpy as np
from PIL import Image

IMAGE_READ_MODES = ('auto', 'decode', 'header')

_PNG_START = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'IEND\xaeB`\x82'
_JPEG_START = b'\xff\xd8\xff'
_JPEG_END = b'\xff\xd9'


def _ends_complete(f, fmt: Optional[str]) -> bool:
    """Whether the open file ``f`` ends like a complete JPEG / PNG (other
    formats: True)."""
    if fmt not in ('JPEG', 'PNG'):
        return True
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - 64))
    tail = f.read()
    if fmt == 'PNG':
        return tail.endswith(_PNG_END)
    # Some writers pad JPEGs after the end marker.
    return tail.rstrip(b'\x00').endswith(_JPEG_END)


def _tail_ok(path: str, fmt: Optional[str]) -> bool:
    """Whether the file ends like a complete JPEG / PNG (other formats: True)."""
    if fmt not in ('JPEG', 'PNG'):
        return True
    with open(path, 'rb') as f:
        return _ends_complete(f, fmt)


def truncation(path: str) -> Optional[str]:
    """``'JPEG file is truncated'`` (or PNG) when a file that starts as a
    JPEG or PNG lacks its end, else None; other formats are not judged.
    Raises ``OSError`` (``FileNotFoundError``, ...) when it cannot be read."""
    with open(path, 'rb') as f:
        head = f.read(8)
        fmt = 'JPEG' if head.startswith(_JPEG_START) else 'PNG' if head == _PNG_START else None
        return None if _ends_complete(f, fmt) else f'{fmt} file is truncated'


def probe_image(path: str, decode: bool) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """Check that ``path`` is a readable image.

    Returns:
        ``(error, (height, width))``: ``error`` is None for a good image, else
        a short reason (the size is then None).
    """
    try:
        with Image.open(path) as im:
            width, height = im.size
            if decode:
                im.load()
            elif not _tail_ok(path, im.format):
                return f'{im.format} file is truncated', None
    except FileNotFoundError:
        return 'missing', None
    except Exception as err:  # Pillow raises many types for bad files
        return f'{type(err).__name__}: {err}', None
    return None, (height, width)


def read_label(path: str) -> Tuple[Optional[str], Optional[np.ndarray]]:
    """Decode a label map as mmseg does (Pillow, values unchanged).

    Returns:
        ``(error, label)``: ``error`` is None and ``label`` the ``(H, W)``
        (or ``(H, W, C)``) array, or ``error`` is a short reason.
    """
    try:
        with Image.open(path) as im:
            return None, np.asarray(im)
    except FileNotFoundError:
        return 'missing', None
    except Exception as err:
        return f'{type(err).__name__}: {err}', None


def decode_all(mode: str, count: int, limit: int) -> bool:
    """Whether ``count`` images are fully decoded under ``image_read=mode``."""
    return mode == 'decode' or (mode == 'auto' and count <= limit)
