"""Joining a launcher's process group before the runner is built."""
import torch
from mmengine.config import Config


def init_process_group(cfg: Config) -> None:
    """Join the launcher's process group now, as mmengine's runner would
    (which then finds it joined): before the runner, so that the data check
    runs on rank 0 alone. Nothing for ``launcher='none'``.

    Without a GPU the group uses gloo: mmengine's own initialisation pins
    each process to a CUDA device first, which fails on a CPU-only torch.
    """
    import torch.distributed as dist
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or dist.is_initialized():
        return
    if launcher == 'pytorch' and not torch.cuda.is_available():
        dist.init_process_group(backend='gloo')
        return
    from mmengine.dist import init_dist
    init_dist(launcher, **(cfg.get('env_cfg') or {}).get('dist_cfg', {}))


__all__ = ['init_process_group']
