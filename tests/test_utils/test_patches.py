"""What importing the package changes in mmengine (its checkpoint loading
through torch's safe loader), and nothing else."""
import subprocess
import sys
import warnings

import pytest

# ------------------------------------------------------- what import changes
IMPORT_CHANGES = """
import mmengine.hooks.checkpoint_hook as hook_module
import mmengine.runner as runner_pkg
import mmengine.runner.checkpoint as ckpt_module
import mmengine.runner.runner as runner_module
modules = (hook_module, runner_pkg, ckpt_module, runner_module)
before = [dict(vars(m)) for m in modules]
import fasternet_dense
changed = sorted(f'{m.__name__}.{k}' for m, old in zip(modules, before)
                 for k in set(old) | set(vars(m)) if old.get(k) is not vars(m).get(k))
print(changed)
print(ckpt_module.save_checkpoint.__module__, ckpt_module.find_latest_checkpoint.__module__,
      runner_pkg.save_checkpoint is ckpt_module.save_checkpoint,
      runner_module.save_checkpoint is ckpt_module.save_checkpoint,
      runner_module.find_latest_checkpoint is ckpt_module.find_latest_checkpoint,
      'open' in vars(hook_module))
"""


def test_import_leaves_mmengine_functions_as_mmengine_defines_them():
    """Only the safe checkpoint loader's one module global (listed in
    fasternet_dense/utils/patches.py) differs after ``import fasternet_dense``."""
    proc = subprocess.run([sys.executable, '-c', IMPORT_CHANGES], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    changed, identities = proc.stdout.strip().splitlines()[-2:]
    assert changed == "['mmengine.runner.checkpoint.load_from_http']"
    assert identities == 'mmengine.runner.checkpoint mmengine.runner.checkpoint True True True False'


def test_patches_warn_once_when_versions_differ(monkeypatch):
    from fasternet_dense.utils import patches
    monkeypatch.setattr(patches, '_applied', False)
    monkeypatch.setitem(patches.WRITTEN_FOR, 'mmengine', '0.9.1')
    with pytest.warns(UserWarning, match=r'written for other versions: mmengine 0\.10\.7 '
                      r'\(written for 0\.9\.1\)'):
        patches.apply()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        patches.apply()


@pytest.mark.parametrize('rank', [0, 1])
def test_http_checkpoints_are_downloaded_by_rank_zero_while_others_wait(rank, tmp_path,
                                                                        monkeypatch):
    import mmengine.dist
    import torch.hub

    from fasternet_dense.utils.checkpoint import load_from_http
    events = []
    url = 'https://example.org/weights/fasternet_t0.pth?x=1'
    cached = tmp_path / 'fasternet_t0.pth'

    def download(source, target, progress=True):
        events.append(('download', source))
        torch.save({'w': torch.ones(2)}, target)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    monkeypatch.setattr(mmengine.dist, 'get_dist_info', lambda: (rank, 2))
    monkeypatch.setattr(mmengine.dist, 'barrier', lambda: events.append(('barrier', )))
    if rank:  # rank 0 has filled the cache by the time the barrier opens
        torch.save({'w': torch.ones(2)}, cached)
    state = load_from_http(url, model_dir=str(tmp_path))
    assert torch.equal(state['w'], torch.ones(2))
    assert events == ([('download', url), ('barrier', )] if rank == 0 else [('barrier', )])
