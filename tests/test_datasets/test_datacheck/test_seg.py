"""The ADE20K layout check: every image has its label map, of its size,
with values the classes allow."""
import os

import cv2
import numpy as np

from fasternet_dense.datasets.datacheck.seg import check_seg_layout
from fasternet_dense.datasets.toydata import make_toy_ade


def test_a_good_set_passes_and_a_bad_label_map_is_found(tmp_path):
    root = tmp_path / 'ade'
    make_toy_ade(str(root), num_train=6, num_val=2, image_size=64, seed=0)
    img_dir, seg_dir = root / 'images' / 'training', root / 'annotations' / 'training'
    good = check_seg_layout(str(img_dir), str(seg_dir), num_classes=5, reduce_zero_label=True)
    assert not good.problems and len(good.names) == 6 and not good.bad
    name = good.names[2]
    cv2.imwrite(str(seg_dir / f'{name}.png'), np.full((64, 64), 9, np.uint8))
    os.remove(seg_dir / f'{good.names[4]}.png')
    bad = check_seg_layout(str(img_dir), str(seg_dir), num_classes=5, reduce_zero_label=True)
    assert bad.bad == {name, good.names[4]}
    assert len(bad.problems.kinds) == 2
