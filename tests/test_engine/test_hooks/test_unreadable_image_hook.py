"""Training goes on past an unreadable image, counted; too many stop the
run with the list, the last checkpoint intact."""
import json
import os
import os.path as osp
import socket
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as torch_mp
from conftest import as_argv, damage, loader_options, run_tool, write_image
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel

from fasternet_dense import CrashSafeRunner, UnreadableImagesError
from fasternet_dense.datasets.toydata import make_toy_ade
from fasternet_dense.datasets.transforms.loading import LoadImageFromFileOrSkip, record_path
from fasternet_dense.engine.hooks.unreadable_image_hook import LIST_NAME, UnreadableImageHook
from fasternet_dense.engine.runner.checkpoints import (find_resumable_checkpoint,
                                                       intact_last_checkpoint)


# ----------------------------------------------------------- training runs
def _to_inputs(results):
    return dict(inputs=torch.from_numpy(results['img']).float().mean(-1, keepdim=True))


class ImageFiles(BaseDataset):
    def __init__(self, files, **kwargs):
        self.files = files
        super().__init__(pipeline=[dict(type=LoadImageFromFileOrSkip), _to_inputs], **kwargs)

    def load_data_list(self):
        return [dict(img_path=f) for f in self.files]


class MeanModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=(self.w * torch.stack(list(inputs)).mean() / 255 - 0.5) ** 2)


def runner(work_dir, files, max_iters, hooks, num_workers=0, **extra):
    import uuid
    return CrashSafeRunner(
        model=MeanModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=ImageFiles(files), batch_size=2, num_workers=num_workers,
                              persistent_workers=num_workers > 0,
                              sampler=dict(type='InfiniteSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False)),
        custom_hooks=hooks, default_scope='mmengine', randomness=dict(seed=0),
        experiment_name=f'unreadable_{uuid.uuid4().hex}', **extra)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_training_goes_on_past_an_unreadable_image(tmp_path, num_workers):
    files = [write_image(tmp_path / f'{i}.jpg', seed=i) for i in range(6)]
    damage(files[3], 'garbage')
    hook = UnreadableImageHook(max_skips=5)
    run = runner(tmp_path / 'work', files, max_iters=4, hooks=[hook], num_workers=num_workers)
    run.train()
    assert [f for f, _ in hook.skipped] and {f for f, _ in hook.skipped} == {files[3]}
    log = open(osp.join(run.log_dir, f'{run.timestamp}.log')).read()
    assert f'skipped unreadable image {files[3]}' in log
    assert not osp.exists(record_path())  # the record goes with the run
    assert osp.isfile(tmp_path / 'work' / 'iter_4.pth')


def test_too_many_unreadable_images_stop_the_run_with_the_list(tmp_path):
    files = [write_image(tmp_path / f'{i}.jpg', seed=i) for i in range(8)]
    damage(files[4], 'garbage')
    damage(files[5], 'truncate')
    run = runner(tmp_path / 'work', files, max_iters=8, hooks=[UnreadableImageHook(max_skips=1)])
    with pytest.raises(UnreadableImagesError) as info:
        run.train()
    message = str(info.value)
    # Iterations 1-2 read images 0-3; the third meets 4 and 5 (and draws others).
    assert message.startswith('Training stopped at iteration 3: 2 images could not be read '
                              '(more than unreadable_images.max_skips=1)')
    assert files[4] in message and files[5] in message and 'JPEG file is truncated' in message
    listing = osp.join(run.log_dir, LIST_NAME)
    assert [line.split('\t')[0] for line in open(listing).read().splitlines()] == files[4:6]
    assert f'listed in {listing}' in message and '--resume' in message
    # The last good checkpoint is whole; nothing of iteration 3 was written.
    work = str(tmp_path / 'work')
    assert intact_last_checkpoint(work).endswith('iter_2.pth')
    assert find_resumable_checkpoint(work) == osp.join(work, 'iter_2.pth')
    assert not osp.exists(tmp_path / 'work' / 'iter_3.pth')
    assert not osp.exists(record_path())
    # With the files replaced, --resume goes on from it to the end.
    for i in (4, 5):
        write_image(files[i], seed=i)
    hook = UnreadableImageHook(max_skips=1)
    resumed = runner(work, files, max_iters=8, hooks=[hook], resume=True)
    resumed.train()
    assert resumed.iter == 8 and not hook.skipped


def test_the_limit_comes_from_the_config_through_the_train_tool(tmp_path):
    root = tmp_path / 'ade'
    make_toy_ade(str(root), num_train=8, num_val=2, image_size=64, seed=0)
    damage(str(root / 'images' / 'training' / 'toy_train_000002.jpg'), 'garbage')
    options = loader_options(root, **{
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 100, 'data_check.enabled': False,
        'unreadable_images.max_skips': 0, 'default_hooks.checkpoint.interval': 1})
    proc = run_tool('train.py', 'configs/semfpn_fasternet_t0_toyade.py', '--work-dir',
                    str(tmp_path / 'work'), *as_argv(options))
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith('error: Training stopped at iteration 1: 1 images could not be read '
                           '(more than unreadable_images.max_skips=0)')
    assert 'toy_train_000002.jpg' in line and 'unreadable_images.max_skips=N' in line


# ------------------------------------------------------------ distributed
def _rank_main(rank, world, port, out_dir):
    import torch.distributed as dist
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR='127.0.0.1',
                      MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    hook = UnreadableImageHook(max_skips=2)
    fake = SimpleNamespace(cfg={}, iter=0, work_dir=out_dir, log_dir=out_dir,
                           logger=SimpleNamespace(warning=lambda message: None))
    hook.before_train(fake)
    stopped_at = None
    for iteration in range(4):
        fake.iter = iteration
        if rank == 0 and iteration in (1, 2):  # only rank 0 meets bad images
            with open(record_path(), 'a') as f:
                f.write(f'/data/bad{iteration}.jpg\tcorrupt\n/data/worse{iteration}.jpg\tx\n')
        try:
            hook.after_train_iter(fake, iteration)
        except UnreadableImagesError:
            stopped_at = iteration
            break
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(dict(stopped_at=stopped_at, skipped=len(hook.skipped)), f)
    dist.destroy_process_group()


def test_all_ranks_stop_at_the_same_iteration(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    torch_mp.spawn(_rank_main, args=(2, port, str(tmp_path)), nprocs=2)
    found = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    # 2 after iteration 1 (allowed), 4 after iteration 2: both stop there.
    assert found == [dict(stopped_at=2, skipped=4), dict(stopped_at=2, skipped=0)]
