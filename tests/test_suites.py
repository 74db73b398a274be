"""Suites of networks timed together: what they build, how they count and
time, and the table, picture and errors of ``tools/benchmark.py --suite``."""
import json
import os.path as osp

import pytest
import torch
import torch.nn as nn

from conftest import run_tool
from fasternet_dense.complexity import backbone_flops, count_flops
from fasternet_dense.errors import ConfigError
from fasternet_dense.inference import deploy_model
from fasternet_dense.inference_cli import benchmark_main
from fasternet_dense.paper import OPERATOR_MAPS, TABLE1, TABLE3
from fasternet_dense.peers import FASTERNET, PEERS, UNAVAILABLE, build_peer
from fasternet_dense.suite_bench import prepare_row, run_suite
from fasternet_dense.suites import SUITES, StackedOperator, row, suite_rows
from fasternet_dense.timing import time_interleaved

PVT_SMALL = dict(type='mmdet.PyramidVisionTransformer', num_layers=[1, 1, 1, 1])


# ------------------------------------------------------------------ counting
def test_operator_suite_flops_are_the_papers_table_1_exactly():
    """Ten layers, multiply-adds: the paper prints them truncated to its
    digits (162.57M as 162, 13.547M as 13.54)."""
    rows = suite_rows('paper-operators')
    assert len(rows) == 16
    for r in rows:
        c, h, w = r['shape']
        op = r['label'].split(' @ ')[0]
        per_layer = {'Conv 3x3': c * c * 9, 'GConv 3x3 (16 groups)': c * (c // 16) * 9,
                     'DWConv 3x3': c * 9, 'PConv 3x3 (r=1/4)': (c // 4)**2 * 9}[op]
        flops, _ = count_flops(r['build'](), (torch.randn(1, c, h, w), ))
        assert flops == 10 * per_layer * h * w, r['label']
        paper = TABLE1[(op, (c, h, w))][0]
        digits = 0 if paper >= 100 else 2
        assert int(flops / 1e6 * 10**digits) / 10**digits == paper, (r['label'], flops)


@pytest.mark.parametrize('name', list(FASTERNET))
def test_fasternet_flops_at_224_match_table_3_within_2_percent(name):
    model = build_peer(name)
    flops = backbone_flops(model, torch.randn(1, 3, 224, 224)) / 1e9
    assert abs(flops / TABLE3[name][1] - 1) < 0.02, (name, flops)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(PEERS))
def test_peer_flops_match_the_published_figure_within_5_percent(name):
    """Counted on the inference architecture (after the model's own
    re-parameterisation, batch norms in place), at the size the figure was
    published for: see ``PEERS[name]['published']`` for figure and source."""
    figure, side, _source = PEERS[name]['published']
    model = build_peer(name)
    deploy_model(model)
    flops = backbone_flops(model, torch.randn(1, 3, side, side)) / 1e9
    assert abs(flops / figure - 1) < 0.05, (name, flops, figure)


def test_fused_attention_counts_as_its_two_products():
    """The handle for ``scaled_dot_product_attention`` equals what the
    counter finds in the same attention written with matmul."""
    from mmpretrain.models.utils.attention import scaled_dot_product_attention_pyimpl

    class Attention(nn.Module):

        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, q, k, v):
            return self.fn(q, k, v)

    q, k, v = torch.randn(2, 4, 49, 32), torch.randn(2, 4, 20, 32), torch.randn(2, 4, 20, 16)
    fused, _ = count_flops(Attention(torch.nn.functional.scaled_dot_product_attention), (q, k, v))
    spelled, _ = count_flops(Attention(scaled_dot_product_attention_pyimpl), (q, k, v))
    assert fused == spelled == 2 * 4 * 49 * 20 * (32 + 16)


def test_rows_no_library_builds_are_listed_not_replaced():
    import timm
    from mmpretrain.registry import MODELS
    labels = [r['label'] for r in suite_rows('paper-imagenet')]
    for name in UNAVAILABLE:
        assert name in TABLE3 and name not in labels
    assert not timm.list_models('*cycle*')
    assert not [n for n in MODELS.module_dict if 'cycle' in n.lower()]
    assert set(TABLE3) - set(UNAVAILABLE) <= set(labels)


# ------------------------------------------------------------- preparation
class _TwoConvsThenTwoNorms(nn.Module):
    """Registration order (conv a, conv b, norm a, norm b) differs from the
    forward's (a, norm a, b, norm b); equal widths hide it from the
    registration-order fold."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(8, 8, 1)
        self.conv_b = nn.Conv2d(8, 8, 1)
        self.norm_a = nn.BatchNorm2d(8)
        self.norm_b = nn.BatchNorm2d(8)
        for norm in (self.norm_a, self.norm_b):
            norm.running_mean.uniform_(-1, 1)
            norm.running_var.uniform_(0.5, 2)

    def forward(self, x):
        return self.norm_b(self.conv_b(self.norm_a(self.conv_a(x))))


def test_a_fold_that_changes_outputs_is_refused_and_said():
    prepared = prepare_row(row('odd', lambda: _TwoConvsThenTwoNorms().eval(), (8, 8, 8)))
    assert prepared['fold'].startswith('not folded: folding changed outputs by')
    assert isinstance(prepared['model'].norm_a, nn.BatchNorm2d)


def test_mobileone_is_counted_and_timed_re_parameterised():
    prepared = prepare_row(row('MobileOne-S0', lambda: build_peer('MobileOne-S0'),
                               (3, 64, 64)))
    assert prepared['deploy'] == 'switch_to_deploy'
    assert prepared['fold'] == 'folded'
    assert not any(isinstance(m, nn.BatchNorm2d) for m in prepared['model'].modules())


# ------------------------------------------------------------------ timing
def test_rounds_run_every_network_once_in_order(monkeypatch):
    calls = []
    steps = [lambda i, k=k: calls.append((i, k)) for k in range(3)]
    clock = iter(range(1000))
    monkeypatch.setattr('fasternet_dense.timing.time.perf_counter', lambda: next(clock))
    times = time_interleaved(steps, iters=4, warmup=2)
    assert calls == ([(i, k) for i in range(2) for k in range(3)] +  # warm-up rounds
                     [(i, k) for i in range(4) for k in range(3)])
    assert times == [[1000.0] * 4] * 3  # each call sees one clock tick, in ms


def _fake_rows():
    """Three tiny networks; the fake timer makes the second twice and the
    third four times as slow as the first."""
    paper = [dict(cpu_ms=10.0, gpu_fps=100.0), dict(cpu_ms=30.0, gpu_fps=25.0), None]
    rows = []
    for k, label in enumerate(('Fast', 'Twice', 'Four')):
        rows.append(row(label, lambda k=k: nn.Conv2d(3, 3, 1, bias=False).eval(), (3, 8, 8),
                        paper[k], pair='Fast', group='g'))
    return rows


def test_medians_and_pair_ratios_from_a_fake_timer(monkeypatch):
    """Per round: Fast 1 tick, Twice 2, Four 4, except one slow outlier
    round that the median ignores."""
    durations = iter([1, 2, 4] * 2 + [1, 2, 4, 9, 9, 9] + [1, 2, 4] * 2)

    def fake_timer(steps, iters, warmup, sync):
        out = [[] for _ in steps]
        for i in range(warmup + iters):
            for k, step in enumerate(steps):
                step(i)
                d = next(durations)
                if i >= warmup:
                    out[k].append(d * 1000.0)
        return out

    monkeypatch.setattr('fasternet_dense.suite_bench.time_interleaved', fake_timer)
    result = run_suite('fake', _fake_rows(), iters=4, warmup=1)
    by = {r['label']: r for r in result['rows']}
    assert [by[k]['median_ms'] for k in ('Fast', 'Twice', 'Four')] == [1000.0, 2000.0, 4000.0]
    assert by['Twice']['pair_speedup'] == 2.0 and by['Four']['pair_speedup'] == 4.0
    assert by['Fast']['pair_speedup'] == 1.0
    assert by['Twice']['paper_pair_speedup'] == 3.0  # 30 ms / 10 ms
    assert by['Four']['paper_pair_speedup'] is None
    flops = 3 * 3 * 8 * 8
    assert by['Fast']['gflops_per_s'] == pytest.approx(flops / 1.0 / 1e9)
    assert result['settings']['batch_size'] == 1 and result['settings']['threads'] == 1


# ------------------------------------------------------------ every suite
@pytest.mark.parametrize('suite', [
    pytest.param(name, marks=pytest.mark.slow) if name == 'paper-imagenet' else name
    for name in sorted(SUITES)])
def test_every_suite_builds_each_network_and_times_one_round(suite):
    rows = suite_rows(suite)
    if suite == 'paper-imagenet':
        # The paper's input is already small; one round at 224 is seconds.
        assert {r['shape'] for r in rows} == {(3, 224, 224)}
    result = run_suite(suite, rows, iters=1, warmup=0)
    assert len(result['rows']) == len(rows)
    for r in result['rows']:
        assert r['params'] > 0 and r['flops'] > 0 and len(r['times_ms']) == 1, r['label']
        assert r['fold'] == 'folded', (r['label'], r['fold'])
        if r['pair'] not in (None, r['label']):
            assert r['pair_speedup'] > 0
    labels = [r['label'] for r in result['rows']]
    assert all(r['pair'] in labels for r in result['rows'] if r['pair'])


# ------------------------------------------------------ command and files
def test_suite_command_writes_table_json_and_picture(tmp_path):
    out, pic = tmp_path / 'ops.json', tmp_path / 'ops.png'
    proc = run_tool('benchmark.py', '--suite', 'paper-operators', '--iters', '1', '--warmup',
                    '0', '--json', str(out), '--plot', str(pic))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'PConv 3x3 (r=1/4) @ 96x56x56' in proc.stdout and 'paper GFLOP/s' in proc.stdout
    result = json.loads(out.read_text())
    assert result['suite'] == 'paper-operators' and len(result['rows']) == 16
    assert {'cpu', 'cpu_count', 'torch', 'torch_threads'} <= set(result['machine'])
    assert result['date'][:4].isdigit()
    assert pic.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and pic.stat().st_size > 20000


def test_a_suite_file_lists_configs_peers_and_backbones(tmp_path):
    suite = tmp_path / 'mine.py'
    suite.write_text(
        "suite = [\n"
        "    'semfpn_fasternet_t0_ade20k',\n"
        "    dict(peer='MobileNetV2', pair='semfpn_fasternet_t0_ade20k'),\n"
        f"    dict(backbone={PVT_SMALL!r}, label='tiny PVT'),\n"
        "]\n")
    rows = suite_rows(str(suite), shape=(64, 64))
    assert [r['label'] for r in rows] == ['semfpn_fasternet_t0_ade20k', 'MobileNetV2',
                                          'tiny PVT']
    result = run_suite('mine', rows, iters=1, warmup=0)
    t0 = result['rows'][0]
    assert t0['params'] == sum(p.numel() for p in build_peer('FasterNet-T0').parameters())
    assert result['rows'][1]['pair_speedup'] > 0
    yaml_file = tmp_path / 'mine.yaml'
    yaml_file.write_text('- peer: FasterNet-T0\n- {peer: MobileNetV2, pair: FasterNet-T0}\n')
    assert [r['pair'] for r in suite_rows(str(yaml_file))] == [None, 'FasterNet-T0']


@pytest.mark.parametrize('content, message', [
    ("suite = []", 'non-empty list'),
    ("suite = [dict(peer='NoSuchNet')]", "unknown peer 'NoSuchNet'"),
    ("suite = [dict(peer='MobileNetV2', config='x')]", 'exactly one of config=, peer='),
    ("suite = [dict(peer='MobileNetV2', colour=1)]", "unknown keys ['colour']"),
    ("suite = [dict(peer='MobileNetV2', pair='ResNet')]", "pair 'ResNet'"),
])
def test_bad_suite_files_are_one_clear_line(tmp_path, content, message):
    suite = tmp_path / 'bad.py'
    suite.write_text(content + '\n')
    with pytest.raises(ConfigError, match=message.replace('[', r'\[').replace('(', r'\(')):
        suite_rows(str(suite))


@pytest.mark.parametrize('args, message', [
    (['--suite', 'no-such-suite'], 'no such suite or file; suites: paper-imagenet'),
    (['--suite', 'paper-operators', 'semfpn_fasternet_t0_ade20k'], 'give either a CONFIG'),
    (['semfpn_fasternet_t0_ade20k', '--plot', 'x.png'], 'go with --suite'),
    (['--suite', 'paper-operators', '--shape', '64', '64'], 'does not apply'),
    (['--suite', 'paper-operators', '--device', 'cuda'], 'needs a CUDA GPU'),
])
def test_bad_suite_arguments_are_one_line_errors(capsys, args, message):
    if 'cuda' in args and torch.cuda.is_available():
        pytest.skip('a GPU is present')
    assert benchmark_main(args) == 2
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and err.startswith('error: ') and message in err, err
