"""The OpenMMLab stack's own entry points on this package's models, each in a
fresh process that imports nothing of this package but through the config,
as a user runs them: torch's default safe loader and mmdet's and mmseg's
inferencers on checkpoints of ``tools/train.py``, and mmengine's FLOP counter
in train and eval mode."""
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import as_argv, config_path, loader_options, run_tool, toy_coco_options

from fasternet_dense.benchmark.paper import TABLE3
from fasternet_dense.datasets.toydata import make_toy_ade, make_toy_coco
from fasternet_dense.models import ARCH_SETTINGS

DET_CONFIG = config_path('maskrcnn_fasternet_t0_toycoco.py')
SEG_CONFIG = config_path('semfpn_fasternet_t0_toyade.py')
DET_CLASSES = ['circle', 'square', 'triangle']
SEG_CLASSES = ['ground', 'disc', 'box', 'stripes', 'triangle']


def fresh_python(script: str, *args: str):
    """``python -c SCRIPT ARGS`` in a new process; its last stdout line
    (JSON) parsed, and the whole output."""
    proc = subprocess.run([sys.executable, '-c', script, *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout + proc.stderr


def _train(config: str, options: dict, work_dir) -> None:
    proc = run_tool('train.py', config, '--work-dir', str(work_dir), *as_argv(options),
                    timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One short toy Mask R-CNN and one toy Semantic FPN training with
    ``tools/train.py`` (64x64 images, batch 2): their checkpoints and a
    validation image of each."""
    base = tmp_path_factory.mktemp('entry_points')
    coco, ade = base / 'coco', base / 'ade'
    make_toy_coco(str(coco), num_train=4, num_val=2, image_size=64)
    make_toy_ade(str(ade), num_train=4, num_val=2, image_size=64)
    small = {'train_dataloader.batch_size': 2, 'val_dataloader.batch_size': 2}
    _train(DET_CONFIG, toy_coco_options(coco, **small, **{
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 1}), base / 'det')
    _train(SEG_CONFIG, loader_options(ade, **small, **{
        'train_dataloader.dataset.pipeline.2.scale': (128, 64),
        'train_dataloader.dataset.pipeline.3.crop_size': (64, 64),
        'val_dataloader.dataset.pipeline.1.scale': (64, 64),
        'model.data_preprocessor.size': (64, 64), 'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 4, 'default_hooks.checkpoint.interval': 2}), base / 'seg')
    return SimpleNamespace(
        det=str(base / 'det' / 'epoch_1.pth'), seg=str(base / 'seg' / 'iter_2.pth'),
        det_image=str(min((coco / 'val2017').iterdir())),
        seg_image=str(min((ade / 'images' / 'validation').iterdir())))


# ------------------------------------------------------------------ checkpoints
PLAIN_LOAD = """
import json, sys
import torch
checkpoint = torch.load(sys.argv[1], weights_only=True)
hub = checkpoint['message_hub']
print(json.dumps(dict(
    imported='fasternet_dense' in sys.modules, keys=sorted(checkpoint),
    loss=hub['log_scalars']['train/loss']['log_history'],
    classes=checkpoint['meta']['dataset_meta']['classes'], iter=checkpoint['meta']['iter'])))
"""


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_a_trained_checkpoint_opens_with_torchs_default_safe_loader(trained, task):
    """``torch.load(path)`` (``weights_only=True`` since torch 2.6) reads
    the whole checkpoint, message hub and metadata included, without this
    package's allow-list."""
    result, _ = fresh_python(PLAIN_LOAD, getattr(trained, task))
    assert not result['imported']
    assert result['keys'] == ['message_hub', 'meta', 'optimizer', 'param_schedulers',
                              'state_dict']
    assert result['classes'] == (DET_CLASSES if task == 'det' else SEG_CLASSES)
    assert len(result['loss']) == 2 and result['iter'] == 2
    assert all(isinstance(v, float) and v > 0 for v in result['loss'])


# ------------------------------------------------------------------ inferencers
DET_INFERENCER = """
import json, sys
assert 'fasternet_dense' not in sys.modules
from mmdet.apis import DetInferencer
config, weights, image = sys.argv[1:]
inferencer = DetInferencer(model=config, weights=weights, device='cpu')
pred = inferencer(image, return_datasamples=True)['predictions'][0]
found = pred.pred_instances
print(json.dumps(dict(
    classes=list(inferencer.model.dataset_meta['classes']), image=list(pred.ori_shape),
    boxes=list(found.bboxes.shape), masks=list(found.masks.shape),
    labels=sorted(set(found.labels.tolist())))))
"""

SEG_INFERENCER = """
import json, sys
assert 'fasternet_dense' not in sys.modules
from mmseg.apis import MMSegInferencer
config, weights, image = sys.argv[1:]
inferencer = MMSegInferencer(model=config, weights=weights, device='cpu')
pred = inferencer(image, return_datasamples=True)
print(json.dumps(dict(
    classes=list(inferencer.model.dataset_meta['classes']), image=list(pred.ori_shape),
    mask=list(pred.pred_sem_seg.data.shape),
    labels=sorted(set(pred.pred_sem_seg.data.flatten().tolist())))))
"""


def test_mmdet_inferencer_runs_a_trained_checkpoint_as_a_process_first_call(trained):
    result, output = fresh_python(DET_INFERENCER, DET_CONFIG, trained.det, trained.det_image)
    assert f'Loads checkpoint by local backend from path: {trained.det}' in output
    assert result['classes'] == DET_CLASSES
    assert result['image'] == [64, 64]
    found = result['boxes'][0]
    assert result['boxes'] == [found, 4] and result['masks'] == [found, 64, 64]
    assert set(result['labels']) <= {0, 1, 2}


def test_mmseg_inferencer_runs_a_trained_checkpoint_as_a_process_first_call(trained):
    result, output = fresh_python(SEG_INFERENCER, SEG_CONFIG, trained.seg, trained.seg_image)
    assert f'Loads checkpoint by local backend from path: {trained.seg}' in output
    assert result['classes'] == SEG_CLASSES
    assert result['image'] == [64, 64] and result['mask'] == [1, 64, 64]
    assert result['labels'] and set(result['labels']) <= set(range(len(SEG_CLASSES)))


# ------------------------------------------------------------------------ FLOPs
COMPLEXITY = """
import json, sys
from functools import partial
import torch
from mmengine.analysis import FlopAnalyzer, get_model_complexity_info
from mmengine.config import Config
from mmengine.registry import init_default_scope
assert 'fasternet_dense' not in sys.modules
cfg = Config.fromfile(sys.argv[1])
init_default_scope('mmdet')
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
torch.manual_seed(0)
detector = MODELS.build(cfg.model)
shape = (128, 128)
meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
            scale_factor=(1.0, 1.0))
# As mmdet's tools/analysis_tools/get_flops.py counts a detector.
detector.forward = partial(detector.forward, data_samples=[DetDataSample(metainfo=meta)])
image = torch.randn(1, 3, *shape)

def count(model, **inputs):
    total = get_model_complexity_info(model, show_table=False, show_arch=False, **inputs)['flops']
    x = inputs.get('inputs', torch.randn(1, *inputs.get('input_shape', (1, ))))
    analyzer = FlopAnalyzer(model, x).unsupported_ops_warnings(False)
    return dict(analyzer.uncalled_modules_warnings(False).by_operator(), total=total)

results = {}
for name, model, inputs in (('backbone', detector.backbone, dict(input_shape=(3, 224, 224))),
                            ('detector', detector, dict(inputs=image))):
    for mode in ('train', 'eval', 'reference'):
        model.train(mode == 'train')
        detector.backbone.set_fast_inference(mode != 'reference')
        results[f'{name} {mode}'] = count(model, **inputs)
print(json.dumps(results))
"""


def block_norm_elements(arch: str, side: int) -> int:
    """Elements the batch norms inside FasterNet's blocks see for a
    ``side`` x ``side`` input (the hidden layer, ``2 * dim`` channels)."""
    settings = ARCH_SETTINGS[arch]
    return sum(2 * settings['embed_dim'] * 2**i * (side // 2**(i + 2))**2 * depth
               for i, depth in enumerate(settings['depths']))


def test_mmengine_counts_the_same_products_in_train_and_eval_mode():
    """``get_model_complexity_info`` on FasterNet-T0 at 224x224 and on the toy
    Mask R-CNN at 128x128: the eval-mode fast path's matrix products count
    exactly as the convolutions they replace, so every operator but the
    batch norm adds up alike in train mode, eval mode and on the reference
    path. The norms count as mmengine counts them (5 FLOPs an element in
    train mode, 2 in eval mode; none for the block norms the fast path folds
    into its first product), and the eval-mode backbone is the paper's T0."""
    results, _ = fresh_python(COMPLEXITY, DET_CONFIG)
    for name, side in (('backbone', 224), ('detector', 128)):
        train, fast, reference = (results[f'{name} {mode}']
                                  for mode in ('train', 'eval', 'reference'))
        products = {mode: {k: v for k, v in ops.items() if k not in ('batch_norm', 'total')}
                    for mode, ops in (('train', train), ('eval', fast),
                                      ('reference', reference))}
        assert products['eval'].pop('matmul') > 0
        products['eval']['conv'] += fast['matmul']
        assert products['train'] == products['eval'] == products['reference'], name
        assert 2 * train['batch_norm'] == 5 * reference['batch_norm'], name
        assert (reference['batch_norm'] - fast['batch_norm']
                == 2 * block_norm_elements('t0', side)), name
        for ops in (train, fast, reference):
            assert ops['total'] == sum(v for k, v in ops.items() if k != 'total'), name
    # The paper's 0.34G for T0 at 224x224 holds its classifier: a 1x1 conv
    # 320 -> 1280 and a 1280 -> 1000 linear layer. Tolerance as in
    # tests/test_benchmark: the paper prints two decimals.
    expected = TABLE3['FasterNet-T0'][1] - (320 * 1280 + 1280 * 1000) / 1e9
    assert abs(results['backbone eval']['total'] / 1e9 / expected - 1) < 0.02
