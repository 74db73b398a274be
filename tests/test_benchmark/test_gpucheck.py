"""On a CUDA GPU: mmcv's compiled CUDA ops equal their CPU results, the
backbone's eval fast path equals its reference path in fp32, fp16 and bf16,
mixed-precision training steps of Mask R-CNN S and Semantic FPN S have finite
losses, and one distributed training iteration runs with NCCL through
torchrun. Skipped, with the reason, on a machine without one;
``bash scripts/gpu_check.sh finish`` runs them on a GPU machine."""
import pytest
import torch
from conftest import as_argv, config_path, loader_options, run_distributed
from mmengine.config import Config

from fasternet_dense.apis.inference import build_model
from fasternet_dense.benchmark.gpucheck import TOLERANCES, path_exactness

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA GPU (bash scripts/gpu_check.sh runs these there)'),
]


def test_mmcv_cuda_roi_align_and_nms_equal_their_cpu_results():
    from mmcv.ops import RoIAlign, batched_nms, nms
    gen = torch.Generator().manual_seed(0)
    feats = torch.rand(2, 8, 32, 32, generator=gen)
    corners = torch.rand(40, 2, generator=gen) * 20
    sizes = torch.rand(40, 2, generator=gen) * 10 + 1
    rois = torch.cat([torch.randint(0, 2, (40, 1), generator=gen).float(), corners,
                      corners + sizes], dim=1)
    align = RoIAlign((7, 7), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    torch.testing.assert_close(align(feats.cuda(), rois.cuda()).cpu(), align(feats, rois),
                               rtol=0, atol=1e-5)
    boxes = torch.cat([corners, corners + sizes], dim=1) * 4
    scores = torch.rand(40, generator=gen)
    _, keep_cpu = nms(boxes, scores, 0.5)
    _, keep_gpu = nms(boxes.cuda(), scores.cuda(), 0.5)
    assert keep_gpu.cpu().tolist() == keep_cpu.tolist()
    labels = torch.randint(0, 3, (40, ), generator=gen)
    cfg = dict(type='nms', iou_threshold=0.5)
    _, kept_cpu = batched_nms(boxes, scores, labels, cfg)
    _, kept_gpu = batched_nms(boxes.cuda(), scores.cuda(), labels.cuda(), cfg)
    assert kept_gpu.cpu().tolist() == kept_cpu.tolist()


@pytest.mark.parametrize('precision', ['fp32', 'fp16', 'bf16'])
def test_fast_path_equals_the_reference_path_on_cuda(precision):
    rows = [r for r in path_exactness('cuda', ('t0', 's', 'l'), batch_size=4)
            if r['precision'] == precision]
    assert rows
    for r in rows:
        assert r['relative'] <= TOLERANCES[precision], r
    if precision != 'fp32':
        # Lower precision costs the fast path no more than the reference path.
        by_arch = {}
        for r in rows:
            by_arch.setdefault(r['arch'], {})[r['path']] = r['relative']
        for errors in by_arch.values():
            assert errors['fast'] <= 2 * errors['reference'] + 1e-6, errors


def _amp_step(model, data):
    from mmengine.optim import build_optim_wrapper
    wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='SGD', lr=1e-3, momentum=0.9)))
    log_vars = model.train_step(data, wrapper)
    assert torch.isfinite(log_vars['loss']), log_vars
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log_vars.values()), log_vars
    return log_vars


def test_amp_training_step_of_mask_rcnn_s_has_a_finite_loss():
    from mmdet.testing import demo_mm_inputs
    cfg = Config.fromfile(config_path('maskrcnn_fasternet_s_coco.py'))
    cfg.model.backbone.init_cfg = None
    model = build_model(cfg, device='cuda').train()
    torch.manual_seed(0)
    data = demo_mm_inputs(batch_size=2, image_shapes=(3, 512, 640), num_items=[3, 2],
                          num_classes=80, with_mask=True)
    log_vars = _amp_step(model, data)
    assert {'loss_rpn_cls', 'loss_cls', 'loss_mask'} <= set(log_vars)


def test_amp_training_step_of_semantic_fpn_s_has_a_finite_loss():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(config_path('semfpn_fasternet_s_ade20k.py'))
    cfg.model.backbone.init_cfg = None
    model = build_model(cfg, device='cuda').train()
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, 512, 512), generator=gen, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(512, 512), ori_shape=(512, 512)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, 512, 512), generator=gen))
        samples.append(sample)
    log_vars = _amp_step(model, dict(inputs=inputs, data_samples=samples))
    assert 'decode.loss_ce' in log_vars


def test_one_distributed_training_iteration_with_nccl_through_torchrun(tmp_path):
    from fasternet_dense.datasets.toydata import make_toy_ade
    data = tmp_path / 'toy_ade'
    make_toy_ade(str(data))
    work_dir = tmp_path / 'dist'
    options = loader_options(data, **{
        'train_cfg.max_iters': 1, 'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1})
    proc = run_distributed('dist_train.sh', config_path('semfpn_fasternet_t0_toyade.py'), '1',
                           '--work-dir', str(work_dir), *as_argv(options), port=29531)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work_dir / 'iter_1.pth').is_file()
    text = '\n'.join(p.read_text() for p in work_dir.rglob('*.log'))
    assert 'Distributed training: True' in text
    assert "backend='nccl'" in text
