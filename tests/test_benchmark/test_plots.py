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
