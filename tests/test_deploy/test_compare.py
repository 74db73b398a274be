"""How far outputs are from the reference ones."""
import torch

from fasternet_dense import FasterNet
from fasternet_dense.deploy.compare import output_difference, reference_copy, same_layout


def test_output_difference_is_the_largest_absolute_error_and_its_ratio():
    outs = [torch.tensor([1.0, 2.0]), torch.tensor([[4.0]])]
    refs = [torch.tensor([1.5, 2.0]), torch.tensor([[-5.0]])]
    assert output_difference(outs, refs) == dict(max_abs_diff=9.0, max_abs_ref=5.0,
                                                  relative=1.8)
    assert output_difference(torch.ones(2), torch.ones(2))['relative'] == 0.0
    assert output_difference([torch.ones(2)], [torch.ones(3)]) is None
    assert output_difference([torch.ones(2)], [torch.ones(2), torch.ones(2)]) is None


def test_the_reference_copy_runs_the_paper_path_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = FasterNet('t0').eval()
    ref = reference_copy(model)
    assert ref is not model and same_layout(ref, model) and not ref.training
    assert all(not b.fast_inference for b in ref.modules() if hasattr(b, 'fast_inference'))
    assert all(b.fast_inference for b in model.modules() if hasattr(b, 'fast_inference'))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert output_difference(model(x), ref(x))['relative'] < 1e-5
    assert not same_layout(model, FasterNet('t1'))
