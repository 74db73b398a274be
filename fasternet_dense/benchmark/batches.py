"""Test batches for timing a model's ``test_step``: the config's own test
pipeline on real test images, or on a synthetic one."""
import copy
import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from ..datasets.paths import data_folder, leaf_datasets
from ..utils.config_utils import pipeline_steps
from ..utils.tasks import task_of

# Raw synthetic image of the whole-model benchmark: the detection test size
# (1333x800 fits the (1333, 800) resize unchanged) and a 512x512 crop. (H, W).
BENCHMARK_SHAPES = {'mmdet': (800, 1333), 'mmseg': (512, 512)}
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def find_test_images(cfg: Config, limit: int) -> Tuple[List[str], Optional[str]]:
    """Up to ``limit`` image files of the config's test set (sorted by name)
    and their folder; an empty list when the folder does not exist."""
    dataset = next(leaf_datasets(cfg.test_dataloader.dataset))
    folder = data_folder(dataset, 'img') or data_folder(dataset, 'img_path')
    if not folder or not osp.isdir(folder):
        return [], folder or None
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    return [osp.join(folder, n) for n in names[:limit]], folder


def _test_pipeline(cfg: Config, from_array: bool) -> List[dict]:
    pipeline = []
    for kind, step in pipeline_steps(cfg):
        step = copy.deepcopy(step)
        if 'LoadAnnotations' in kind:
            continue  # timing needs no ground truth
        if kind == 'LoadImageFromFile' and from_array:
            step = dict(type='LoadImageFromNDArray')
        pipeline.append(step)
    return pipeline


def synthetic_image(shape: Tuple[int, int], seed: int = 0) -> np.ndarray:
    """A ``(H, W, 3)`` uint8 BGR image: smooth colour blobs plus noise, so
    that resizing and the network see natural-looking statistics."""
    rng = np.random.default_rng(seed)
    h, w = shape
    coarse = rng.integers(0, 256, size=(max(h // 64, 2), max(w // 64, 2), 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    img += rng.normal(0, 12, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_test_batches(cfg: Config, batch_size: int, num_batches: int,
                      shape: Optional[Tuple[int, int]] = None,
                      synthetic: bool = False) -> Tuple[List[dict], str]:
    """Test batches for ``model.test_step`` built with the config's own test
    pipeline (annotation loading dropped).

    Real images of the config's test set are used when the folder exists and
    ``synthetic`` is false; otherwise a synthetic image of ``shape`` (H, W).
    Detection batches hold consecutive images; segmentation batches repeat
    one image, since mmseg's test step needs equal sizes in a batch.

    Returns the batches and a one-line description of the input.
    """
    from mmengine.dataset import Compose, pseudo_collate
    scope = task_of(cfg)
    files, folder = ([], None) if synthetic else find_test_images(
        cfg, batch_size * num_batches if scope == 'mmdet' else num_batches)
    with DefaultScope.overwrite_default_scope(scope):
        pipeline = Compose(_test_pipeline(cfg, from_array=not files))
        if files:
            if shape is not None:
                MMLogger.get_current_instance().warning(
                    f'Timing the real test images in {folder}; --shape applies to synthetic '
                    'images only (add --synthetic to time those).')
            samples = [pipeline(dict(img_path=f, img_id=i, seg_map_path=None,
                                     reduce_zero_label=False, seg_fields=[]))
                       for i, f in enumerate(files)]
            source = f'{len(files)} real images from {folder}'
        else:
            shape = shape or BENCHMARK_SHAPES[scope]
            samples = [pipeline(dict(img=synthetic_image(shape), img_id=0, seg_fields=[],
                                     reduce_zero_label=False))]
            source = f'synthetic {shape[0]}x{shape[1]} (HxW) image'
    if scope == 'mmseg':
        groups = [[s] * batch_size for s in samples]
    else:
        groups = [[samples[(b * batch_size + i) % len(samples)] for i in range(batch_size)]
                  for b in range(max(1, min(num_batches, -(-len(samples) // batch_size))))]
    batches = [pseudo_collate(copy.deepcopy(g)) for g in groups]
    net = tuple(batches[0]['inputs'][0].shape[-2:])
    return batches, f'{source}; first network input {net[0]}x{net[1]} before padding'


__all__ = ['BENCHMARK_SHAPES', 'find_test_images', 'synthetic_image', 'make_test_batches']
