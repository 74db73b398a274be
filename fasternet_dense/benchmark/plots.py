"""The picture of a suite's timings (``tools/benchmark.py --suite ... --plot``).

Networks: median latency against FLOPs on log-log axes, one point per
network, FasterNet highlighted, with dashed lines of constant GFLOP/s for
reference (a network on a line achieves that rate). ``paper-imagenet`` adds,
as the paper's Figure 1 does, the published ImageNet top-1 against the
latency measured here, FasterNet's variants joined by a line. Operators
(Table 1): achieved GFLOP/s per operator and feature map beside the paper's.
Point labels are placed where they overlap no other label.
"""
from typing import Dict, List, Sequence, Tuple

from .formatting import paper_rate

# Where a label may go beside its point, in points: right, left, above,
# below, then the diagonals, then further out.
_OFFSETS = [(4, -3), (-4, -3), (0, 5), (0, -11), (4, 4), (-4, 4), (4, -10), (-4, -10),
            (10, -3), (-10, -3), (0, 12), (0, -18), (12, 8), (-12, 8), (12, -16), (-12, -16)]


def place_labels(ax, points: Sequence[Tuple[float, float]], labels: Sequence[str],
                 fontsize: float = 6, colors: Sequence[str] = (),
                 marker_px: float = 4.0) -> List[Tuple[int, int]]:
    """Label each point in data coordinates at the first offset of
    :data:`_OFFSETS` where its text box overlaps neither a label already
    placed nor another point's marker (a square of ``marker_px`` pixels
    around it); where none is free, at the offset that overlaps least.
    Returns the offsets chosen."""
    from matplotlib.transforms import Bbox
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pixels = ax.transData.transform(list(points)) if len(points) else []
    markers = [Bbox.from_extents(px - marker_px, py - marker_px, px + marker_px, py + marker_px)
               for px, py in pixels]

    def overlap(a, b) -> float:
        width = min(a.x1, b.x1) - max(a.x0, b.x0)
        height = min(a.y1, b.y1) - max(a.y0, b.y0)
        return max(width, 0.0) * max(height, 0.0)

    placed, chosen = [], []
    for i, ((x, y), label) in enumerate(zip(points, labels)):
        color = colors[i] if i < len(colors) else 'black'
        obstacles = placed + markers[:i] + markers[i + 1:]
        best = None
        for dx, dy in _OFFSETS:
            ha = 'left' if dx > 0 else 'right' if dx < 0 else 'center'
            text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords='offset points',
                               fontsize=fontsize, ha=ha, color=color)
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            text.remove()
            cost = sum(overlap(box, other) for other in obstacles)
            if best is None or cost < best[0]:
                best = (cost, (dx, dy), ha, box)
            if cost == 0:
                break
        _, (dx, dy), ha, box = best
        ax.annotate(label, (x, y), xytext=(dx, dy), textcoords='offset points',
                    fontsize=fontsize, ha=ha, color=color)
        placed.append(box)
        chosen.append((dx, dy))
    return chosen


def _networks(ax, result: Dict[str, object]) -> None:
    import numpy as np
    rows = result['rows']
    gpu = result['settings']['device'].startswith('cuda')
    flops = np.array([r['flops'] / 1e9 for r in rows])
    ms = np.array([r['median_ms'] / result['settings']['batch_size'] for r in rows])
    fasternet = np.array(['FasterNet' in r['label'] for r in rows])
    ax.scatter(flops[~fasternet], ms[~fasternet], s=22, color='tab:blue', label='peers')
    ax.scatter(flops[fasternet], ms[fasternet], s=46, color='tab:red', marker='*',
               label='FasterNet', zorder=3)
    ax.set_xscale('log')
    ax.set_yscale('log')
    lo, hi = flops.min() / 1.5, flops.max() * 1.5
    rates = sorted(r['gflops_per_s'] for r in rows)
    for rate in (rates[len(rates) // 2], rates[-1]):
        xs = np.array([lo, hi])
        ax.plot(xs, xs / rate * 1000.0, '--', color='grey', linewidth=0.8)
        ax.annotate(f'{rate:.0f} GFLOP/s', (hi, hi / rate * 1000.0), fontsize=7, color='grey',
                    ha='right', va='bottom')
    ax.set_xlabel('GFLOPs (multiply-adds) per image')
    ax.set_ylabel(f'median latency per image, ms ({"GPU" if gpu else "CPU"})')
    ax.grid(True, which='both', linewidth=0.3, alpha=0.5)
    ax.legend(loc='upper left', fontsize=8)
    _label(ax, list(zip(flops, ms)), rows, fasternet)


def _accuracy(ax, result: Dict[str, object]) -> None:
    """Published ImageNet top-1 against the latency measured here."""
    import numpy as np
    rows = [r for r in result['rows'] if r.get('top1')]
    gpu = result['settings']['device'].startswith('cuda')
    ms = np.array([r['median_ms'] / result['settings']['batch_size'] for r in rows])
    top1 = np.array([r['top1'] for r in rows])
    fasternet = np.array([r['label'].startswith('FasterNet') for r in rows])
    ax.scatter(ms[~fasternet], top1[~fasternet], s=22, color='tab:blue', label='peers')
    order = np.argsort(ms[fasternet])
    ax.plot(ms[fasternet][order], top1[fasternet][order], '-*', color='tab:red', markersize=9,
            label='FasterNet', zorder=3)
    ax.set_xscale('log')
    ax.set_xlabel(f'median latency per image, ms ({"GPU" if gpu else "CPU"}, measured here)')
    ax.set_ylabel('ImageNet top-1 % (published)')
    ax.grid(True, which='both', linewidth=0.3, alpha=0.5)
    ax.legend(loc='lower right', fontsize=8)
    _label(ax, list(zip(ms, top1)), rows, fasternet)


def _label(ax, points, rows, fasternet) -> None:
    """FasterNet's labels (red) placed first, then the peers'."""
    order = sorted(range(len(rows)), key=lambda i: not fasternet[i])
    place_labels(ax, [points[i] for i in order], [rows[i]['label'] for i in order],
                 colors=['tab:red' if fasternet[i] else 'black' for i in order])


def _operators(ax, result: Dict[str, object]) -> None:
    import numpy as np
    rows = result['rows']
    gpu = result['settings']['device'].startswith('cuda')
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r['gflops_per_s'] for r in rows], 0.4, label='measured', color='tab:red')
    column = result['settings']['paper_column']
    ax.bar(x + 0.2, [paper_rate(r['paper'], column) or 0 for r in rows], 0.4,
           label=f'paper ({"RTX 2080Ti" if gpu else "i9-9900X, 1 thread"})', color='tab:grey')
    ax.set_xticks(x)
    ax.set_xticklabels([r['label'].replace(' 3x3', '').replace(' (16 groups)', '')
                        .replace(' (r=1/4)', '') for r in rows], rotation=70, fontsize=7)
    ax.set_yscale('log')
    ax.set_ylabel('GFLOP/s (multiply-adds)')
    ax.grid(True, axis='y', which='both', linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=8)


def plot_suite(result: Dict[str, object], path: str) -> None:
    """Write the suite's picture to ``path`` (PNG)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    operators = result['suite'] == 'paper-operators'
    accuracy = any(r.get('top1') for r in result['rows'])
    m, s = result['machine'], result['settings']
    title = (f"{result['suite']}: {m.get('gpu') or m['cpu']}, {s['threads']} thread(s), "
             f"batch {s['batch_size']}, torch {m['torch']}, {result['date'][:10]}")
    if accuracy:
        fig, (left, right) = plt.subplots(1, 2, figsize=(16, 7.5))
        # The layout first: the labels are placed in it.
        fig.subplots_adjust(left=0.05, right=0.98, bottom=0.08, top=0.93, wspace=0.13)
        _accuracy(left, result)
        _networks(right, result)
        fig.suptitle(title, fontsize=10)
        fig.savefig(path, dpi=130)
        plt.close(fig)
        return
    fig, ax = plt.subplots(figsize=(10, 5.5) if operators else (9, 7))
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    (_operators if operators else _networks)(ax, result)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


__all__ = ['place_labels', 'plot_suite']
