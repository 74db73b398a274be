"""Every change this package makes to objects of other packages.

``import fasternet_dense`` calls :func:`apply` once. Everything else the
package offers is switched on by name in a config (``runner_type``,
``custom_hooks``, ``model.backbone.type``), never by rebinding.

========================================================  ==========================================
target                                                    why
========================================================  ==========================================
``mmengine.runner.checkpoint.CheckpointLoader`` schemes   torch >= 2.6 loads with ``weights_only=True``
``''`` (local files) and ``http://`` / ``https://``       and refuses mmengine's own log buffers and
(re-registered with ``force=True``)                       numpy data in checkpoints; mmengine 0.10's
                                                          loaders pass no allow-list. The
                                                          replacements load with exactly that
                                                          allow-list and refuse everything else
                                                          (:func:`fasternet_dense.utils.checkpoint.safe_torch_load`).
``mmengine.runner.checkpoint.load_from_http``             ``open-mmlab://`` and ``torchvision://``
                                                          checkpoints reach the http loader through
                                                          this module global, not the scheme table.
========================================================  ==========================================

Written for mmengine 0.10.7 and torch 2.13; with other versions the targets
may have moved, so :func:`apply` warns once.
"""
import warnings

WRITTEN_FOR = {'mmengine': '0.10.7', 'torch': '2.13'}

_applied = False


def _version_mismatches() -> list:
    import mmengine
    import torch
    found = {'mmengine': mmengine.__version__, 'torch': torch.__version__.split('+')[0]}
    return [f'{name} {found[name]} (written for {want})' for name, want in WRITTEN_FOR.items()
            if not (found[name] == want or found[name].startswith(want + '.'))]


def apply() -> None:
    """Install the safe checkpoint loaders in mmengine; a second call does
    nothing."""
    global _applied
    if _applied:
        return
    _applied = True
    import mmengine.runner.checkpoint as mmckpt

    from .checkpoint import load_from_http, load_from_local
    mismatches = _version_mismatches()
    if mismatches:
        warnings.warn('fasternet_dense replaces mmengine\'s checkpoint loaders with safe ones '
                      f'and was written for other versions: {", ".join(mismatches)}. If '
                      'checkpoints fail to load, see fasternet_dense/utils/patches.py.',
                      stacklevel=2)
    mmckpt.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    mmckpt.CheckpointLoader.register_scheme(
        prefixes=['http://', 'https://'], loader=load_from_http, force=True)
    mmckpt.load_from_http = load_from_http
