"""Joining the launcher's process group before the runner is built."""
import os
import subprocess
import sys

from mmengine.config import Config

from conftest import ROOT
from fasternet_dense.utils.dist import init_process_group

JOIN = """
import torch.distributed as dist
from mmengine.config import Config
from fasternet_dense.utils.dist import init_process_group
init_process_group(Config(dict(launcher='pytorch')))
print(dist.is_initialized(), dist.get_backend(), dist.get_world_size())
init_process_group(Config(dict(launcher='pytorch')))  # joined already: nothing
"""


def test_a_launch_without_launcher_joins_nothing():
    import torch.distributed as dist
    init_process_group(Config(dict(launcher='none')))
    assert not dist.is_initialized()


def test_a_torchrun_launch_joins_with_gloo_on_a_machine_without_gpus():
    env = dict(os.environ, MASTER_ADDR='127.0.0.1', MASTER_PORT='29533', RANK='0',
               WORLD_SIZE='1', LOCAL_RANK='0', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, '-c', JOIN], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ['True', 'gloo', '1']
