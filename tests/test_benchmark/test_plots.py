"""The suites' pictures."""
from fasternet_dense.benchmark.plots import plot_suite


def _result(suite, rows):
    return dict(suite=suite, rows=rows, date='2026-12-05T12:00:00',
                machine=dict(cpu='Test CPU', gpu=None, torch='2.13.0'),
                settings=dict(device='cpu', threads=1, batch_size=1))


def test_a_network_suite_draws_latency_against_flops(tmp_path):
    rows = [dict(label=label, flops=f * 1e9, median_ms=ms, gflops_per_s=f / ms * 1e3)
            for label, f, ms in (('FasterNet-T0', 0.34, 6.0), ('MobileNetV2', 0.30, 9.0),
                                 ('ResNet-18', 1.8, 20.0))]
    out = tmp_path / 'networks.png'
    plot_suite(_result('paper-imagenet', rows), str(out))
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 10000


def test_rows_with_a_published_top1_add_the_accuracy_panel(tmp_path):
    from PIL import Image
    rows = [dict(label=label, flops=f * 1e9, median_ms=ms, gflops_per_s=f / ms * 1e3, top1=t)
            for label, f, ms, t in (('FasterNet-T0', 0.34, 6.0, 71.9),
                                    ('FasterNet-T1', 0.85, 12.0, 76.2),
                                    ('MobileNetV2', 0.30, 9.0, 72.0),
                                    ('MobileOne-S0', 0.27, 5.0, None))]
    out = tmp_path / 'imagenet.png'
    plot_suite(_result('paper-imagenet', rows), str(out))
    width, height = Image.open(out).size
    assert width > 1.8 * height  # two panels side by side


def test_labels_of_crowded_points_do_not_overlap():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from fasternet_dense.benchmark.plots import place_labels
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    points = [(5, 5), (5.05, 5.02), (5.1, 4.98), (4.95, 5.05)]
    offsets = place_labels(ax, points, ['Network-A', 'Network-B', 'Network-C', 'Network-D'])
    assert len(set(offsets)) == 4
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)


def test_a_label_keeps_off_a_neighbouring_point_where_it_can():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from fasternet_dense.benchmark.plots import place_labels
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.figure.canvas.draw()
    # B sits where A's first choice (right of A, a little below) would put A's label.
    a = (5.0, 5.0)
    ax_px = ax.transData.transform([a])[0]
    b = tuple(ax.transData.inverted().transform([(ax_px[0] + 20, ax_px[1] - 1)])[0])
    place_labels(ax, [a, b], ['Network-A', 'Network-B'])
    renderer = fig.canvas.get_renderer()
    label_a = ax.texts[0].get_window_extent(renderer)
    b_px = ax.transData.transform([b])[0]
    assert not label_a.contains(*b_px)
    # Without the neighbour, A's label takes that first spot and covers it.
    ax.texts[0].remove()
    ax.texts[0].remove()
    place_labels(ax, [a], ['Network-A'])
    assert ax.texts[0].get_window_extent(renderer).contains(*b_px)
    plt.close(fig)
