"""Config keys that nothing accepts, found before anything is built.

A misspelt key is either ignored (``train_cfgg.max_iters=2`` starts the
full run) or ends in a ``TypeError`` deep inside a builder. This module
checks every key of the parts a runner builds against what takes it:

* a dict with a ``type``: the constructor of the registered type, followed
  through ``**kwargs`` to the base classes when the constructor passes them
  on (``super().__init__(**kwargs)``); a constructor that keeps ``**kwargs``
  for itself accepts anything;
* the runner's untyped sections: loops without a ``type`` (by ``by_epoch``),
  dataloaders (torch's ``DataLoader`` and what mmengine's
  ``Runner.build_dataloader`` takes), ``env_cfg``, ``randomness``,
  ``auto_scale_lr``, and the toolkit's own option sections;
* top-level keys that an override adds to a config: those mmengine's
  ``Runner`` reads.

Top-level keys written in a config file are its variables and are not
checked. Dicts that helper functions build with arguments of their own
(``norm_cfg``, ``act_cfg``, ``conv_cfg``, ``init_cfg``, ...) are left to
them, and a type found in no registry is left to its builder.
"""
import ast
import difflib
import inspect
import re
import textwrap
from functools import lru_cache
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence

from mmengine.config import Config

from ..utils.errors import ConfigError
from ..utils.tasks import task_of, task_registries

# Keys every typed dict may hold besides the constructor's arguments.
_ALWAYS = frozenset({'type', '_scope_'})
# Keys a builder takes out of a dict before it calls the constructor.
_POPPED = {
    'HOOKS': {'priority'},
    'PARAM_SCHEDULERS': {'convert_to_iter_based'},
    'OPTIM_WRAPPERS': {'constructor', 'paramwise_cfg'},
}
# Types that keep their ``**kwargs`` and hand them to one known function:
# (module, class name) -> (module, qualified name of the function, its
# arguments given by the type itself).
_KWARGS_GO_TO = {
    ('mmengine.hooks.checkpoint_hook', 'CheckpointHook'):
        ('mmengine.runner', 'Runner.save_checkpoint', {'out_dir', 'filename'}),
}
# Dicts built by helper functions that add arguments of their own.
_LEFT_TO_BUILDERS = re.compile(
    r'(^|_)(norm|act|conv|init|dcn|upsample|plugin)_cfg$|^(plugins|dcn)$')
# The runner's untyped sections and the keys each takes.
_FIXED_SECTIONS = {
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
    'randomness': {'seed', 'diff_rank_seed', 'deterministic'},
    'auto_scale_lr': {'enable', 'base_batch_size'},
}
# Keys that mmengine's Runner.from_cfg and Runner read from a config,
# besides the arguments of Runner.__init__.
_RUNNER_READS = {'runner_type', 'model_wrapper_cfg', 'find_unused_parameters', 'compile',
                 'activation_checkpointing', 'efficient_conv_bn_eval', 'auto_scale_lr',
                 'custom_imports', 'default_scope', '_base_'}
# What mmengine's Runner.build_dataloader takes besides DataLoader's arguments.
_DATALOADER_EXTRAS = {'dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn',
                      'num_batch_per_epoch', 'disable_subprocess_warning'}
_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class UnknownKey(NamedTuple):
    """A key nothing accepts: where it is, what it was given to, and the
    names that are accepted there."""
    path: str
    owner: str
    accepted: Sequence[str]

    def message(self) -> str:
        key = self.path.rsplit('.', 1)[-1]
        close = difflib.get_close_matches(key, self.accepted, n=3, cutoff=0.6)
        if close:
            hint = 'did you mean ' + ' or '.join(close) + '?'
        else:
            names = sorted(self.accepted)
            more = f' and {len(names) - 12} more' if len(names) > 12 else ''
            hint = 'it takes ' + ', '.join(names[:12]) + more + '.'
        return f'Config key {self.path} is not taken by {self.owner}; {hint}'


def project_sections() -> dict:
    """The toolkit's own top-level option sections and their keys."""
    from ..datasets.datacheck import DATA_CHECK_DEFAULTS
    return {'data_check': set(DATA_CHECK_DEFAULTS), 'nonfinite_loss': {'max_skips'},
            'unreadable_images': {'max_skips'}}


# ------------------------------------------------------ what a type accepts
def _source_tree(obj) -> Optional[ast.AST]:
    """The syntax tree of a function's or module's source, or None when it
    cannot be read."""
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return None


def _next_in_chain(obj: type, klass: type, init, name: str):
    """The class whose ``__init__`` receives the ``**name`` of ``klass``'s
    ``__init__`` when building ``obj``: the next in ``obj``'s MRO for
    ``super().__init__(**name)``, the one after ``X`` for
    ``super(X, self)``, ``Base`` for ``Base.__init__(self, **name)``.
    None when the keywords go nowhere else (kept, or passed to another
    callable), ``...`` when the source cannot be read."""
    tree = _source_tree(init)
    if tree is None:
        return ...
    mro = obj.__mro__
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == '__init__'):
            continue
        if not any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == name
                   for k in node.keywords):
            continue
        target = node.func.value
        if isinstance(target, ast.Call) and getattr(target.func, 'id', None) == 'super':
            after = klass
            if target.args and isinstance(target.args[0], ast.Name):
                after = next((c for c in mro if c.__name__ == target.args[0].id), klass)
            return mro[mro.index(after) + 1] if after in mro else ...
        if isinstance(target, ast.Name):
            return next((c for c in mro if c.__name__ == target.id), ...)
        return ...
    return None


@lru_cache(maxsize=None)
def accepted_keys(obj) -> Optional[frozenset]:
    """The keyword arguments the class (or function) ``obj`` accepts, or
    None when it accepts any."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if not inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return frozenset(p.name for p in params if p.kind in kinds)
    names = set()
    klass = obj
    while klass is not None and klass is not object:
        # The class that defines the __init__ that runs for ``klass``.
        owner = next(c for c in obj.__mro__[obj.__mro__.index(klass):]
                     if '__init__' in c.__dict__)
        if owner is object:
            break
        init = owner.__dict__['__init__']
        try:
            params = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params if p.kind in kinds)
        var_kw = next((p.name for p in params if p.kind == inspect.Parameter.VAR_KEYWORD), None)
        if var_kw is None:
            break
        klass = _next_in_chain(obj, owner, init, var_kw)
        if klass is ...:
            return None
        if klass is None:
            taker = _KWARGS_GO_TO.get((owner.__module__, owner.__name__))
            if taker is None:
                return None  # kept for itself or handed to something else
            module, qualname, given = taker
            import importlib
            function = importlib.import_module(module)
            for part in qualname.split('.'):
                function = getattr(function, part)
            taken = accepted_keys(function)
            return None if taken is None else frozenset(names | (taken - given) - {'self'})
    return frozenset(names)


@lru_cache(maxsize=None)
def _module_keys(module_name: str) -> frozenset:
    """Keys a module's code takes out of config dicts itself:
    ``x.pop('key')``, ``x.get('key')``, ``x.setdefault('key')``."""
    import sys
    tree = _source_tree(sys.modules.get(module_name))
    if tree is None:
        return frozenset()
    return frozenset(
        node.args[0].value for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in ('pop', 'get', 'setdefault') and node.args
        and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))


def popped_by(obj) -> frozenset:
    """Keys that the modules of ``obj`` and its base classes take out of
    the config dicts they are given before building them (DETR's head
    takes ``bg_cls_weight`` out of its ``loss_cls``, ResNet takes
    ``fallback_on_stride`` out of its ``dcn``)."""
    classes = obj.__mro__ if inspect.isclass(obj) else (obj, )
    keys = set()
    for klass in classes:
        # OpenMMLab's own modules, not torch's (whose code reads its own dicts).
        if klass is not object and not klass.__module__.startswith(('torch.', 'builtins')):
            keys |= _module_keys(klass.__module__)
    return frozenset(keys)


# ------------------------------------------------------------------- walking
class _Walker:
    """Walks a config, yielding :class:`UnknownKey` for each key nothing
    takes."""

    def __init__(self, registries):
        self.reg = registries

    def find(self, type_, order: Sequence[str]):
        """The class or function ``type_`` names, looked up in the named
        registries in turn; None if none has it."""
        if not isinstance(type_, str):
            return type_ if callable(type_) else None
        for name in order:
            registry = getattr(self.reg, name, None)
            if registry is None:
                continue
            try:
                found = registry.get(type_)
            except Exception:  # a scope prefix of a package not installed
                found = None
            if found is not None:
                return found
        return None

    def typed(self, node: dict, path: str, order: Sequence[str], default=None,
              extra: Iterable[str] = (), parent=None) -> Iterator[UnknownKey]:
        """Check a dict built as ``type(**rest)``: ``order`` names the
        registries to look its type up in; ``default`` is the type when it
        has none; ``parent``, the type of the dict it is in."""
        obj = self.find(node['type'], order) if 'type' in node else default
        if parent is not None:
            extra = set(extra) | popped_by(parent)
        if obj is not None:
            accepted = accepted_keys(obj)
            if accepted is not None:
                named = accepted | _POPPED.get(order[0], set())
                if default is not None and 'type' not in node:
                    named = named | set(extra)
                allowed = named | _ALWAYS | set(extra)
                name = getattr(obj, '__name__', str(obj))
                for key in node:
                    if key not in allowed:
                        yield UnknownKey(f'{path}.{key}', f'{name} ({path})', sorted(named))
        for key, value in node.items():
            if key == 'type':
                continue
            yield from self.inner(value, f'{path}.{key}', self.child_order(order, key),
                                  obj or parent)

    def inner(self, value, path: str, order: Sequence[str],
              parent=None) -> Iterator[UnknownKey]:
        """Typed dicts anywhere under ``value`` (``parent``: the type of the
        nearest typed dict above it)."""
        if _LEFT_TO_BUILDERS.search(path.rsplit('.', 1)[-1]):
            return
        if isinstance(value, dict):
            if 'type' in value:
                yield from self.typed(value, path, order, parent=parent)
            else:
                for key, item in value.items():
                    yield from self.inner(item, f'{path}.{key}', self.child_order(order, key),
                                          parent)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                yield from self.inner(item, f'{path}.{i}', order, parent)

    @staticmethod
    def child_order(order: Sequence[str], key: str) -> List[str]:
        """Where the types of a dict's ``key`` are looked up first."""
        if key in ('pipeline', 'transforms'):
            first = 'TRANSFORMS'
        elif key in ('dataset', 'datasets'):
            first = 'DATASETS'
        elif key in ('sampler', 'batch_sampler') and order[0] != 'MODELS':
            first = 'DATA_SAMPLERS'
        elif key == 'optimizer':
            first = 'OPTIMIZERS'
        elif key == 'vis_backends':
            first = 'VISBACKENDS'
        else:
            first = order[0]
        rest = ['MODELS', 'TASK_UTILS'] if first in ('MODELS', 'TASK_UTILS') else []
        return [first] + [r for r in rest if r != first]

    def fixed(self, node: dict, path: str, keys: Iterable[str],
              owner: str) -> Iterator[UnknownKey]:
        for key in node:
            if key not in keys:
                yield UnknownKey(f'{path}.{key}', owner, sorted(keys))

    def loop(self, node: dict, path: str) -> Iterator[UnknownKey]:
        from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
        if 'type' in node:
            yield from self.typed(node, path, ['LOOPS'])
        elif path == 'train_cfg':
            cls = EpochBasedTrainLoop if node.get('by_epoch', False) else IterBasedTrainLoop
            yield from self.typed(node, path, ['LOOPS'], default=cls, extra={'by_epoch'})
        else:
            default = ValLoop if path == 'val_cfg' else TestLoop
            yield from self.typed(node, path, ['LOOPS'], default=default)

    def dataloader(self, node: dict, path: str) -> Iterator[UnknownKey]:
        from torch.utils.data import DataLoader
        keys = set(accepted_keys(DataLoader) or ()) | _DATALOADER_EXTRAS
        yield from self.fixed(node, path, keys, f'the dataloader ({path})')
        for key in ('dataset', 'sampler', 'batch_sampler'):
            if isinstance(node.get(key), dict):
                yield from self.inner(node[key], f'{path}.{key}',
                                      self.child_order(['DATASETS'], key))

    def config(self, cfg: dict, added: Iterable[str]) -> Iterator[UnknownKey]:
        from mmengine.runner import Runner
        runner_args = set(accepted_keys(Runner) or ())
        sections = project_sections()
        for key in sorted(added):
            known = runner_args | _RUNNER_READS | set(sections) | set(_FIXED_SECTIONS)
            if key not in known:
                yield UnknownKey(key, "this config nor mmengine's Runner",
                                 sorted(known | set(cfg) - set(added)))
        for key, value in cfg.items():
            if not value or not isinstance(value, (dict, list, tuple)):
                continue
            if key == 'model':
                yield from self.inner(value, key, ['MODELS', 'TASK_UTILS'])
            elif key in _LOADERS and isinstance(value, dict):
                yield from self.dataloader(value, key)
            elif key in ('train_cfg', 'val_cfg', 'test_cfg') and isinstance(value, dict):
                yield from self.loop(value, key)
            elif key == 'default_hooks' and isinstance(value, dict):
                for name, hook in value.items():
                    yield from self.inner(hook, f'{key}.{name}', ['HOOKS'])
            elif key == 'custom_hooks':
                yield from self.inner(value, key, ['HOOKS'])
            elif key == 'optim_wrapper' and isinstance(value, dict):
                if 'type' in value:
                    yield from self.typed(value, key, ['OPTIM_WRAPPERS'])
                elif 'optimizer' in value:
                    from mmengine.optim import OptimWrapper
                    yield from self.typed(value, key, ['OPTIM_WRAPPERS'], default=OptimWrapper)
            elif key == 'param_scheduler':
                yield from self.inner(value, key, ['PARAM_SCHEDULERS'])
            elif key in ('val_evaluator', 'test_evaluator'):
                yield from self.inner(value, key, ['METRICS', 'EVALUATOR'])
            elif key == 'visualizer':
                yield from self.inner(value, key, ['VISUALIZERS'])
            elif key == 'log_processor' and isinstance(value, dict):
                from mmengine.runner import LogProcessor
                yield from self.typed(value, key, ['LOG_PROCESSORS'], default=LogProcessor)
            elif key == 'model_wrapper_cfg':
                yield from self.inner(value, key, ['MODEL_WRAPPERS'])
            elif key in _FIXED_SECTIONS and isinstance(value, dict):
                yield from self.fixed(value, key, _FIXED_SECTIONS[key], f'mmengine ({key})')
            elif key in sections and isinstance(value, dict):
                yield from self.fixed(value, key, sections[key], f'the toolkit ({key})')


def unknown_keys(cfg: Config, added: Iterable[str] = ()) -> List[UnknownKey]:
    """Every key of ``cfg`` that nothing takes (``added``: top-level keys an
    override brought in, checked against what mmengine's Runner reads)."""
    registries = task_registries(task_of(cfg))
    return list(_Walker(registries).config(cfg.to_dict() if isinstance(cfg, Config) else cfg,
                                           added))


def check_config_keys(cfg: Config, added: Iterable[str] = ()) -> None:
    """Raise :class:`ConfigError` naming the first key nothing takes, what it
    was given to, and the closest accepted names."""
    found = unknown_keys(cfg, added)
    if found:
        more = f' ({len(found) - 1} more such keys)' if len(found) > 1 else ''
        raise ConfigError(found[0].message() + more)


__all__ = ['UnknownKey', 'accepted_keys', 'unknown_keys', 'check_config_keys']
