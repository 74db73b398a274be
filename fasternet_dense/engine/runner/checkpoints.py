"""Which checkpoint a run resumes from.

:func:`find_resumable_checkpoint` (used by ``CrashSafeRunner``'s automatic
resume and by ``tools/train.py``) takes the file named in
``last_checkpoint`` if it is complete (zip structure and every member's CRC
intact, :func:`checkpoint_problem`); if it is missing, truncated or corrupt,
a warning names it and the newest complete ``epoch_N.pth`` /
``iter_N.pth`` in the work dir is used instead; if there is none, one clear
error. A record that names a file outside the work dir is read by file name
in the work dir.
"""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional

from mmengine.logging import print_log

from ...utils.errors import MissingFileError
from ...utils.fileio import is_local

LAST_CHECKPOINT = 'last_checkpoint'


_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


# -------------------------------------------------------- checking, choosing
def last_checkpoint_record(work_dir: str) -> Optional[str]:
    """The path ``work_dir/last_checkpoint`` names, or None (no record, or
    an empty one)."""
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        return f.read().strip() or None


def intact_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, if it is complete;
    else None."""
    named = last_checkpoint_record(work_dir)
    return named if named and checkpoint_problem(named) is None else None


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from (``'missing'``, ``'truncated'``,
    ...), or None if it is a complete checkpoint.

    Zip checkpoints (torch's format since 1.6) are checked by their central
    directory and every member's CRC, without unpickling; older files are
    loaded.
    """
    if not osp.isfile(path):
        return 'missing'
    size = osp.getsize(path)
    if size == 0:
        return 'empty (0 bytes)'
    with open(path, 'rb') as f:
        magic = f.read(4)
    if magic == b'PK\x03\x04':
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            return f'truncated or corrupt ({size} bytes; {err})'
        if bad is not None:
            return f'corrupt (checksum mismatch in {bad})'
        if not any(n.endswith('/data.pkl') or n == 'data.pkl' for n in names):
            return 'not a torch checkpoint (no data.pkl inside)'
        return None
    if magic[:1] != b'\x80':  # the PROTO opcode every torch pickle starts with
        with open(path, 'rb') as f:
            head = f.read(12)
        return (f'not a checkpoint (torch writes a zip archive, or a pickle before torch 1.6; '
                f'this file starts with {head!r})')
    from ...utils.checkpoint import safe_torch_load
    from ...utils.errors import UnsafeCheckpointError
    try:
        safe_torch_load(path, map_location='cpu')
    except UnsafeCheckpointError:
        return 'refused by safe loading (it holds pickled objects other than weights)'
    except Exception as err:  # any failure means it cannot be resumed from
        return f'unreadable ({type(err).__name__}: {str(err).split(". ")[0]})'
    return None


def _candidates(folder: str) -> List[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``folder``, newest step first."""
    if not osp.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            path = osp.join(folder, name)
            found.append((int(match.group(2)), osp.getmtime(path), path))
    return [p for _, _, p in sorted(found, reverse=True)]


def _outside(path: str, work_dir: str) -> bool:
    """Whether the local ``path`` is not a file directly in ``work_dir``
    (a relative ``path`` is taken from the current folder, as it was
    written)."""
    if not is_local(path):
        return False
    return osp.dirname(osp.abspath(path)) != osp.abspath(work_dir)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume the run in ``work_dir`` from, or None to
    start afresh (no checkpoint there at all).

    Prefers the file named in ``work_dir/last_checkpoint``. A record naming
    a file outside the work dir (a copied work dir) is read by file name in
    the work dir, or, without a complete file of that name there, warned of
    and not followed. If the file is missing, truncated or corrupt, warns and
    takes the newest complete ``epoch_N.pth`` / ``iter_N.pth`` in the work
    dir.

    Raises:
        MissingFileError: checkpoints exist but none is complete.
    """
    record = osp.join(work_dir, LAST_CHECKPOINT)
    named = last_checkpoint_record(work_dir)
    if named is not None and _outside(named, work_dir):
        # A copied work dir: its record still names the original's files.
        here = osp.join(work_dir, osp.basename(named))
        if checkpoint_problem(here) is None:
            print_log(f'{record} names {named}, outside this work dir; resuming from the '
                      f'file of that name here, {here}.', logger='current')
            return here
        print_log(f'{record} names {named}, outside this work dir, and this work dir has no '
                  'complete file of that name; not followed (a resume reads its own work '
                  'dir).', logger='current', level=logging.WARNING)
        named = None
    candidates = _candidates(work_dir)
    if named is None and not candidates:
        print_log(f'No checkpoint in {work_dir} to resume from; training starts afresh.',
                  logger='current')
        return None
    rejected = []
    if named is not None:
        problem = checkpoint_problem(named)
        if problem is None:
            return named
        rejected.append((named, problem))
    for path in candidates:
        if named is not None and osp.abspath(path) == osp.abspath(named):
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            if rejected:
                print_log(f'Checkpoint {rejected[0][0]} is {rejected[0][1]}; resuming from '
                          f'the newest complete one, {path}, instead.',
                          logger='current', level=logging.WARNING)
            else:
                print_log(f'{record} is missing or empty; resuming from the newest '
                          f'complete checkpoint, {path}.', logger='current',
                          level=logging.WARNING)
            return path
        rejected.append((path, problem))
    listed = '; '.join(f'{p} is {why}' for p, why in rejected[:3])
    raise MissingFileError(
        f'Cannot resume the run in {work_dir}: no complete checkpoint ({listed}). '
        'Start the run again without --resume, or pass a good checkpoint with --resume PATH.')
