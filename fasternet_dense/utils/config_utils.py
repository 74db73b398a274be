"""Reading a config's parts by what they are."""
from typing import Iterator, Tuple


def type_name(type_) -> str:
    """The registered name a config's ``type`` stands for: ``'Resize'`` for
    ``'Resize'``, ``'mmdet.Resize'`` (a scoped name) or the class itself."""
    if isinstance(type_, type):
        return type_.__name__
    return str(type_).split('.')[-1]


def pipeline_steps(cfg, loader: str = 'test_dataloader') -> Iterator[Tuple[str, dict]]:
    """``(type name, step)`` for each transform of a dataloader's pipeline
    (the config's own dicts: changing a step changes the config)."""
    dataset = (cfg.get(loader) or {}).get('dataset') or {}
    for step in dataset.get('pipeline') or []:
        yield type_name(step.get('type')), step


__all__ = ['type_name', 'pipeline_steps']
