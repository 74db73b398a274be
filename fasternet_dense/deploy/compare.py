"""How far an exported or folded module's outputs are from the reference
ones: a reference copy of a module before it is changed, and the
differences of two output lists."""
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn

from ..models.backbones.fasternet import use_fast_inference


def reference_copy(module: nn.Module) -> nn.Module:
    """An unfused copy of ``module`` in eval mode running FasterNet's paper
    (split/concatenate) path."""
    ref = copy.deepcopy(module)
    ref.eval()
    return use_fast_inference(ref, False)


def same_layout(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models hold tensors of the same names and shapes."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)


def output_difference(outputs, references) -> Optional[Dict[str, float]]:
    """``max |out - ref|`` over all outputs, ``max |ref|`` and their ratio
    (the relative error that the exactness and export tolerances bound).

    Each side is a tensor or array, or a tuple / list of them; ``None`` when
    the two differ in count or shapes.
    """
    outs, refs = ([torch.as_tensor(t) for t in (v if isinstance(v, (tuple, list)) else [v])]
                  for v in (outputs, references))
    if len(outs) != len(refs) or any(o.shape != r.shape for o, r in zip(outs, refs)):
        return None
    diff = max((o.float() - r.float()).abs().max().item() for o, r in zip(outs, refs))
    ref = max(r.float().abs().max().item() for r in refs)
    return dict(max_abs_diff=diff, max_abs_ref=ref, relative=diff / ref if ref else diff)


__all__ = ['reference_copy', 'same_layout', 'output_difference']
