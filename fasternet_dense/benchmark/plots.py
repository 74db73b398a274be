"""The picture of a suite's timings (``tools/benchmark.py --suite ... --plot``).

Networks: median latency against FLOPs on log-log axes, one point per
network, FasterNet highlighted, with dashed lines of constant GFLOP/s for
reference (a network on a line achieves that rate). Operators (Table 1):
achieved GFLOP/s per operator and feature map beside the paper's.
"""
from typing import Dict

from .formatting import paper_rate


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
    for r, x, y in zip(rows, flops, ms):
        ax.annotate(r['label'].replace('FasterNet-', 'FN-'), (x, y), fontsize=6,
                    xytext=(3, 2), textcoords='offset points')
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
    fig, ax = plt.subplots(figsize=(10, 5.5) if operators else (8, 6))
    (_operators if operators else _networks)(ax, result)
    m, s = result['machine'], result['settings']
    ax.set_title(f"{result['suite']}: {m.get('gpu') or m['cpu']}, {s['threads']} thread(s), "
                 f"batch {s['batch_size']}, torch {m['torch']}, {result['date'][:10]}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


__all__ = ['plot_suite']
