"""``tools/gpu_check.py``'s command line on a machine without a GPU."""
import torch

from fasternet_dense.cli.gpu_check import gpu_check_main, gpu_check_parser


def test_a_cuda_step_without_cuda_is_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        return
    assert gpu_check_main(['backbone', '--out', str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --device cuda needs a CUDA GPU and a CUDA build of torch; none is available '
        '(use --device cpu for a dry run).')


def test_counts_that_cannot_be_timed_with_are_refused(tmp_path, capsys):
    assert gpu_check_main(['backbone', '--out', str(tmp_path), '--device', 'cpu',
                           '--iters', '0']) == 2
    assert capsys.readouterr().err.strip() == (
        'error: --iters 0 is out of range: give 1 or more.')
    assert gpu_check_parser().parse_args(['report', '--out', 'x']).archs


def test_the_report_step_writes_markdown_from_what_is_there(tmp_path, capsys):
    assert gpu_check_main(['report', '--out', str(tmp_path)]) == 0
    assert (tmp_path / 'gpu_report.md').read_text().strip()
