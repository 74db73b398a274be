"""Wall-clock timing: interleaved runs, their statistics, the machine they
ran on and a reference matrix-product rate."""
import os
import platform
import statistics
import time
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Sequence

import torch

# Side of the square matrix product timed as the reference rate (--peak).
REFERENCE_SIZE = 2048


def device_sync(device: str) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (a no-op on CPU)."""
    if device.startswith('cuda'):
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


@contextmanager
def num_threads(num: Optional[int]):
    """``torch.set_num_threads(num)`` within the ``with`` block (``None`` or
    0: torch's own setting); the old count comes back afterwards."""
    old = torch.get_num_threads()
    if num:
        torch.set_num_threads(num)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def summarize(times_ms: Sequence[float], batch_size: int) -> Dict[str, float]:
    """Median, min, max, quartiles, mean (ms per iteration) and images/s."""
    times = sorted(times_ms)
    if len(times) > 1:
        q1, _, q3 = statistics.quantiles(times, n=4, method='inclusive')
    else:
        q1 = q3 = times[0]
    median = statistics.median(times)
    return dict(median_ms=median, min_ms=times[0], max_ms=times[-1], q1_ms=q1, q3_ms=q3,
                iqr_ms=q3 - q1, mean_ms=statistics.fmean(times),
                fps=batch_size * 1000.0 / median)


def time_interleaved(steps: Sequence[Callable[[int], object]], iters: int, warmup: int,
                     sync: Callable[[], None] = lambda: None,
                     on_round: Optional[Callable[[List[List[float]]], None]] = None
                     ) -> List[List[float]]:
    """Run ``steps`` in turn (A B A B ...): ``warmup`` untimed rounds, then
    ``iters`` timed ones. Each step gets the round index. Returns per-step
    wall times in ms; ``on_round(times)`` sees them after every timed
    round."""
    for i in range(warmup):
        for step in steps:
            step(i)
    sync()
    times: List[List[float]] = [[] for _ in steps]
    for i in range(iters):
        for k, step in enumerate(steps):
            sync()
            start = time.perf_counter()
            step(i)
            sync()
            times[k].append((time.perf_counter() - start) * 1000.0)
        if on_round is not None:
            on_round(times)
    return times


def load_average() -> Optional[float]:
    """The machine's 1-minute load average, ``None`` where there is none."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def machine_info(device: str = 'cpu') -> Dict[str, object]:
    """CPU model, core count, torch version and threads, and the GPU name."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, cpu_count=os.cpu_count(), load_avg_1min=load_average(),
                torch=torch.__version__,
                torch_threads=torch.get_num_threads(), python=platform.python_version(),
                platform=platform.platform(), device=device)
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
        info['cuda'] = torch.version.cuda
    return info


def matmul_rate(device: str = 'cpu', dtype: torch.dtype = torch.float32,
                size: int = REFERENCE_SIZE, iters: int = 5) -> float:
    """Median rate, in multiply-adds per second, of a ``size``-cubed matrix
    product on ``device``: the reference for how close a model's convolutions
    and products come to what the machine does at its best."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device, dtype)
    b = torch.randn(size, size, generator=gen).to(device, dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    [times] = time_interleaved([lambda _: torch.mm(a, b, out=out)], iters, warmup=2,
                               sync=device_sync(device))
    return size**3 / (statistics.median(times) / 1000.0)


__all__ = ['REFERENCE_SIZE', 'device_sync', 'num_threads', 'summarize', 'time_interleaved',
           'load_average', 'machine_info', 'matmul_rate']
