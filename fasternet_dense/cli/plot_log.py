"""Training curves from mmengine's scalar logs.

mmengine's ``LocalVisBackend`` (in the mmdet and mmseg default runtimes)
writes ``<work_dir>/<timestamp>/vis_data/scalars.json``, one JSON object per
line: training records every ``logger.interval`` iterations (``lr``,
``loss``, ``loss_*``, ``time``, ``data_time``, ..., ``step`` = iteration) and
one record per validation (the metrics, e.g. ``coco/bbox_mAP`` or ``mIoU``,
with ``step`` = epoch for epoch-based and iteration for iteration-based
training). A resumed run adds a new timestamp folder; :func:`read_scalars`
merges them in time order, later values replacing earlier ones at the same
step.
"""
import argparse
import glob
import json
import os.path as osp
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ..utils.errors import ConfigError, MissingFileError, run_tool

# Record keys that are bookkeeping, not curves.
_NOT_CURVES = ('step', 'epoch', 'iter', 'time', 'data_time', 'memory', 'eta')
# Headline metrics plotted by default when the log has them.
_HEADLINE = ('bbox_mAP', 'segm_mAP', 'mIoU')

Series = Dict[str, Dict[int, float]]


def find_scalar_files(path: str) -> List[str]:
    """``scalars.json`` files of a work dir (oldest run first), of one run's
    timestamp folder, or ``[path]`` for a file. For mmengine's text log
    (``<timestamp>/<timestamp>.log``) the ``vis_data/scalars.json`` beside
    it if there is one, else the text log itself (:func:`read_scalars`
    reads both)."""
    if osp.isfile(path):
        beside = osp.join(osp.dirname(path), 'vis_data', 'scalars.json')
        if path.endswith('.log') and osp.isfile(beside):
            return [beside]
        return [path]
    if not osp.isdir(path):
        raise MissingFileError(f'{path} is neither a work dir nor a scalars.json file.')
    files = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    own = osp.join(path, 'vis_data', 'scalars.json')
    if osp.isfile(own):
        files.append(own)
    if not files:
        raise MissingFileError(
            f'No <timestamp>/vis_data/scalars.json under {path}; mmengine writes it when '
            "the config's visualizer has vis_backends=[dict(type='LocalVisBackend')].")
    return files


def _is_loss(key: str) -> bool:
    """``loss``, ``loss_cls``, ``decode.loss_ce``, ..."""
    return key.split('.')[-1].startswith('loss')


def _is_training(record: dict) -> bool:
    return 'lr' in record or any(_is_loss(k) for k in record)


def read_scalars(files: Sequence[str]) -> Tuple[Series, Series, bool]:
    """Read scalar logs.

    Returns:
        ``(train, val, val_by_epoch)``: ``train[key][iteration] = value`` and
        ``val[key][step] = value`` for every numeric key, and whether the
        validation steps count epochs (training records carry ``epoch``
        only in epoch-based runs).
    """
    train: Series = {}
    val: Series = {}
    by_epoch = False
    for path in files:
        with open(path) as f:
            records = list(_text_log_records(f) if path.endswith('.log') else
                           _json_records(f))
            for record in records:
                step = int(record['step'])
                training = _is_training(record)
                by_epoch = by_epoch or (training and 'epoch' in record)
                target = train if training else val
                for key, value in record.items():
                    if key in _NOT_CURVES or isinstance(value, bool) or not isinstance(
                            value, (int, float)):
                        continue
                    target.setdefault(key, {})[step] = float(value)
    return train, val, by_epoch


def _json_records(lines) -> Iterator[dict]:
    """The records of a ``scalars.json`` file."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the last line of a killed run may be cut off
        if isinstance(record, dict) and 'step' in record:
            yield record


# mmengine's text log lines: ``... - INFO - Iter(train) [ 13/1800]  lr: ...``,
# ``Epoch(train)  [2][ 50/733]  ...``, ``Iter(val) [5/5]    mIoU: ...``.
_LOG_LINE = re.compile(r' - (?:Iter|Epoch)\((train|val)\)\s+(?:\[(\d+)\])?\[\s*(\d+)/(\d+)\]'
                       r'\s+(.*)$')
_LOG_VALUE = re.compile(r'([\w./-]+): (-?[\d.]+(?:e[-+]?\d+)?)(?=\s|$)')


def _text_log_records(lines) -> Iterator[dict]:
    """Records like ``scalars.json``'s from mmengine's text log: training
    lines at their iteration (epoch-based: counted over the epochs as
    mmengine does), validation lines at the epoch, or at the last training
    iteration before them."""
    last_iter = 0
    for line in lines:
        match = _LOG_LINE.search(line)
        if not match:
            continue
        phase, epoch, index, length, rest = match.groups()
        record = {k: float(v) for k, v in _LOG_VALUE.findall(rest)}
        if phase == 'train':
            step = int(index) + (int(epoch) - 1) * int(length) if epoch else int(index)
            last_iter = step
            if epoch:
                record['epoch'] = int(epoch)
        elif int(index) != int(length):
            continue  # progress lines of a validation; its metrics come on the last
        else:
            step = int(epoch) if epoch else last_iter
        record['step'] = step
        yield record


def default_keys(train: Series, val: Series) -> List[str]:
    """Every loss of the training records, and the headline validation
    metrics (``*/bbox_mAP``, ``*/segm_mAP``, ``mIoU``) or, without those,
    every validation metric."""
    losses = sorted(k for k in train if _is_loss(k))
    if 'loss' in losses:  # the total first
        losses.remove('loss')
        losses.insert(0, 'loss')
    headline = [k for k in sorted(val) if k.split('/')[-1] in _HEADLINE]
    return losses + (headline or sorted(val))


def plot_scalars(path: str, out: str, keys: Optional[Sequence[str]] = None) -> str:
    """Plot training curves of a work dir (or ``scalars.json``) into ``out``.

    Losses (and other training keys) go in the top panel against the
    iteration; validation metrics in the bottom panel against the epoch (or
    iteration). ``keys`` picks the curves; by default
    :func:`default_keys`.
    Returns ``out``.

    Raises:
        MissingFileError: no scalar log found.
        ConfigError: a key is in neither kind of record.
    """
    train, val, by_epoch = read_scalars(find_scalar_files(path))
    keys = list(keys) if keys else default_keys(train, val)
    unknown = [k for k in keys if k not in train and k not in val]
    if unknown:
        raise ConfigError(f'{", ".join(unknown)} not in the log; it has training keys '
                          f'{sorted(train)} and validation keys {sorted(val)}.')
    if not keys:
        raise ConfigError(f'The log under {path} has no losses or metrics to plot yet.')
    train_keys = [k for k in keys if k in train]
    val_keys = [k for k in keys if k not in train]

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = [p for p in ((train_keys, train, 'iteration'),
                          (val_keys, val, 'epoch' if by_epoch else 'iteration')) if p[0]]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), squeeze=False)
    for ax, (names, series, xlabel) in zip(axes[:, 0], panels):
        for key in names:
            steps = sorted(series[key])
            ax.plot(steps, [series[key][s] for s in steps], marker='o' if len(steps) < 30
                    else None, markersize=3, label=key)
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    axes[0, 0].set_title(osp.basename(osp.normpath(path)))
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_log_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Plot training curves from mmengine\'s '
                                     'vis_data/scalars.json.')
    parser.add_argument('path', help='work dir (all its runs are merged), a run\'s '
                        'timestamp folder, or a scalars.json file')
    parser.add_argument('--keys', nargs='+', help='curves to plot (default: every loss, and '
                        'coco/bbox_mAP, coco/segm_mAP or mIoU if logged, else every '
                        'validation metric), e.g. loss coco/bbox_mAP mIoU')
    parser.add_argument('--out', help='PNG to write (default: curves.png in the work dir, '
                        'or beside the scalars.json file)')
    return parser


def _plot_log(argv: Optional[Sequence[str]]) -> None:
    args = plot_log_parser().parse_args(argv)
    out = args.out or osp.join(args.path if osp.isdir(args.path) else osp.dirname(args.path),
                               'curves.png')
    plot_scalars(args.path, out, args.keys)
    print(f'wrote {out}')


def plot_log_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/plot_log.py``: write the curves and name the file; exit 2 on
    bad input."""
    return run_tool(_plot_log, argv)
