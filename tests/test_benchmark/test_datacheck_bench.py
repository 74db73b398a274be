"""``tools/datacheck_bench.py``: the data checks timed on generated sets,
here at a small size."""
import json

from fasternet_dense.benchmark.datacheck_bench import format_report, run_bench, write_report


def test_a_small_run_times_serial_cold_and_warm_checks_of_both_sets(tmp_path):
    lines = []
    report = run_bench(str(tmp_path / 'data'), str(tmp_path / 'work'), serial_runs=1,
                       cold_runs=1, warm_runs=2, workers=2, coco_images=40,
                       coco_annotations=200, ade_samples=12, log=lines.append)
    assert set(report['datasets']) == {'coco', 'ade'}
    assert report['datasets']['coco']['files'].startswith('40 images, 200 polygon annotations')
    for times in report['datasets'].values():
        assert {'serial', 'cold', 'warm'} <= set(times)
    assert any(line.startswith('COCO-sized set in ') for line in lines)
    table = format_report(report)
    assert table.splitlines()[0].startswith('data check of the training set, ')
    out = tmp_path / 'report.json'
    write_report(report, str(out))
    assert json.loads(out.read_text())['datasets'].keys() == {'coco', 'ade'}
