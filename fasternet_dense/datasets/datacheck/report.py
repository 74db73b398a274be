"""Problem reporting: each kind of problem once, with the first file it was
found in and how many more there are; all of them in a file when the lines
leave some out."""
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import List, Tuple

from mmengine.logging import print_log

from ...utils.fileio import atomic_write_text

# Where problem listings and filtered annotation files go, under the work dir.
OUTPUT_DIR = 'data_check'


class ProblemLog:
    """Problems of one dataset, grouped by kind in the order first found."""

    def __init__(self, name: str):
        self.name = name
        self._kinds: 'OrderedDict[str, List[Tuple[str, str]]]' = OrderedDict()

    def add(self, kind: str, where: str, detail: str = '') -> None:
        """Record one occurrence of ``kind`` at ``where`` (a file, an entry)."""
        self._kinds.setdefault(kind, []).append((where, detail))

    def __bool__(self) -> bool:
        return bool(self._kinds)

    def count(self, kind: str) -> int:
        return len(self._kinds.get(kind, ()))

    def total(self) -> int:
        return sum(len(found) for found in self._kinds.values())

    @property
    def kinds(self) -> List[str]:
        return list(self._kinds)

    def lines(self) -> List[str]:
        """One line per kind: the first occurrence and how many more."""
        out = []
        for kind, found in self._kinds.items():
            where, detail = found[0]
            line = f'{self.name}: {kind}: {where}' + (f' ({detail})' if detail else '')
            if len(found) > 1:
                line += f' ... and {len(found) - 1} more'
            out.append(line)
        return out

    def all_lines(self) -> List[str]:
        """Every occurrence, one per line."""
        return [f'{kind}: {where}' + (f' ({detail})' if detail else '')
                for kind, found in self._kinds.items() for where, detail in found]


def format_size(hw: Tuple[int, int]) -> str:
    """``(height, width)`` as ``'WxH'``."""
    return f'{hw[1]}x{hw[0]}'


def output_path(work_dir: str, loader: str, source: str, ext: str) -> str:
    """``<work_dir>/data_check/<loader>_<stem of source><ext>``, absolute;
    the folder is made."""
    stem = osp.splitext(osp.basename(source.rstrip('/')))[0] or 'dataset'
    folder = osp.join(work_dir, OUTPUT_DIR)
    os.makedirs(folder, exist_ok=True)
    return osp.abspath(osp.join(folder, f'{loader}_{stem}{ext}'))


def summary_lines(problems: ProblemLog, work_dir: str, loader: str, source: str) -> List[str]:
    """The problem lines; when they leave some out, all problems are written
    to a file in the work dir and a last line names it."""
    lines = problems.lines()
    if problems.total() > len(lines):
        path = output_path(work_dir, loader, source, '_problems.txt')
        atomic_write_text(''.join(line + '\n' for line in problems.all_lines()), path)
        lines.append(f'{loader}: all {problems.total()} problems are listed in {path}')
    return lines


def warn(lines: List[str], summary: str) -> None:
    """Log the problem lines and the summary as warnings."""
    for line in lines:
        print_log(line, logger='current', level=logging.WARNING)
    print_log(summary, logger='current', level=logging.WARNING)
