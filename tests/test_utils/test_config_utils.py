"""A config's parts read by what they are."""
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config

from fasternet_dense.utils.config_utils import pipeline_steps, type_name


def test_type_names_from_names_scoped_names_and_classes():
    assert type_name('Resize') == 'Resize'
    assert type_name('mmdet.Resize') == 'Resize'
    assert type_name(LoadImageFromFile) == 'LoadImageFromFile'


def test_pipeline_steps_are_the_configs_own_dicts():
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type=LoadImageFromFile), dict(type='mmdet.Resize', scale=(10, 10)),
        dict(type='PackDetInputs')]))))
    steps = list(pipeline_steps(cfg))
    assert [name for name, _ in steps] == ['LoadImageFromFile', 'Resize', 'PackDetInputs']
    steps[1][1]['scale'] = (20, 20)
    assert cfg.test_dataloader.dataset.pipeline[1]['scale'] == (20, 20)
    assert list(pipeline_steps(Config(dict()))) == []
