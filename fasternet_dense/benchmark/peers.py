"""The published peers of FasterNet, built by the libraries that maintain them.

:data:`PEERS` says how each peer of the paper's tables (:mod:`.paper`) is
built: from an mmpretrain ImageNet config with its own arch settings, as
mmdet's PVT, or as a timm model through ``mmpretrain.TIMMBackbone``. The
backbone (the whole network but the classifier) is what is timed and
counted. :data:`UNAVAILABLE` lists the Table 3 rows no installed library
builds.
"""
from typing import Dict, Optional, Tuple

import torch.nn as nn

from ..utils.errors import ConfigError

# Rows of Table 3 that no installed library builds.
UNAVAILABLE = {
    'CycleMLP-B1': 'CycleMLP is in none of mmpretrain 1.2.0, mmdet 3.3.0 or timm',
    'CycleMLP-B2': 'CycleMLP is in none of mmpretrain 1.2.0, mmdet 3.3.0 or timm',
}


def _mmpretrain(config: str, published: Optional[Tuple[float, int, str]] = None,
                **backbone) -> dict:
    return dict(library='mmpretrain', config=f'mmpretrain::{config}', backbone=backbone,
                published=published)


def _pvt(layers, published) -> dict:
    return dict(library='mmdet', backbone=dict(type='mmdet.PyramidVisionTransformer',
                                               num_layers=layers), published=published)


_MMPRETRAIN_ZOO = 'mmpretrain 1.2.0 model zoo (metafile.yml)'
_PAPER = 'the model\'s own paper'

# How each peer is built. ``published``: (GFLOPs, input side, source) that the
# FLOP count is checked against; mmpretrain's figures for MobileViT and
# EdgeNeXt are at their 256x256 test size.
PEERS: Dict[str, dict] = {
    'ShuffleNetV2-x1.5': _mmpretrain('shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
                                     (0.299, 224, _PAPER), widen_factor=1.5),
    'ShuffleNetV2-x2': _mmpretrain('shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
                                   (0.591, 224, _PAPER), widen_factor=2.0),
    'MobileNetV2': _mmpretrain('mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
                               (0.319, 224, _MMPRETRAIN_ZOO)),
    'MobileNetV2-x1.4': _mmpretrain('mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
                                    (0.585, 224, _PAPER), widen_factor=1.4),
    'MobileNetV3-Large': _mmpretrain('mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py',
                                     (0.230, 224, _MMPRETRAIN_ZOO)),
    'MobileViT-XXS': _mmpretrain('mobilevit/mobilevit-xxsmall_8xb128_in1k.py',
                                 (0.42, 256, _MMPRETRAIN_ZOO)),
    'MobileViT-XS': _mmpretrain('mobilevit/mobilevit-xsmall_8xb128_in1k.py',
                                (1.05, 256, _MMPRETRAIN_ZOO)),
    'MobileViT-S': _mmpretrain('mobilevit/mobilevit-small_8xb128_in1k.py',
                               (2.03, 256, _MMPRETRAIN_ZOO)),
    'EdgeNeXt-XXS': _mmpretrain('edgenext/edgenext-xxsmall_8xb256_in1k.py',
                                (0.2556, 256, _MMPRETRAIN_ZOO)),
    'EdgeNeXt-XS': _mmpretrain('edgenext/edgenext-xsmall_8xb256_in1k.py',
                               (0.5300, 256, _MMPRETRAIN_ZOO)),
    'EdgeNeXt-S': _mmpretrain('edgenext/edgenext-small_8xb256_in1k.py',
                              (1.2498, 256, _MMPRETRAIN_ZOO)),
    'MobileOne-S0': _mmpretrain('mobileone/mobileone-s0_8xb32_in1k.py',
                                (0.2741, 224, _MMPRETRAIN_ZOO)),
    'MobileOne-S1': _mmpretrain('mobileone/mobileone-s1_8xb32_in1k.py',
                                (0.8238, 224, _MMPRETRAIN_ZOO)),
    'EfficientFormer-L1': _mmpretrain('efficientformer/efficientformer-l1_8xb128_in1k.py',
                                      (1.3046, 224, _MMPRETRAIN_ZOO)),
    # mmpretrain's zoo states 3.737G, the EfficientFormer paper 3.9G.
    'EfficientFormer-L3': _mmpretrain('efficientformer/efficientformer-l3_8xb128_in1k.py',
                                      (3.9, 224, _PAPER)),
    'PoolFormer-S12': _mmpretrain('poolformer/poolformer-s12_32xb128_in1k.py',
                                  (1.8714, 224, _MMPRETRAIN_ZOO)),
    'PoolFormer-S24': _mmpretrain('poolformer/poolformer-s24_32xb128_in1k.py',
                                  (3.5104, 224, _MMPRETRAIN_ZOO)),
    'PoolFormer-S36': _mmpretrain('poolformer/poolformer-s36_32xb128_in1k.py',
                                  (5.1494, 224, _MMPRETRAIN_ZOO)),
    'PoolFormer-M36': _mmpretrain('poolformer/poolformer-m36_32xb128_in1k.py',
                                  (8.9602, 224, _MMPRETRAIN_ZOO)),
    'PoolFormer-M48': _mmpretrain('poolformer/poolformer-m48_32xb128_in1k.py',
                                  (11.8018, 224, _MMPRETRAIN_ZOO)),
    'ConvNeXt-T': _mmpretrain('convnext/convnext-tiny_32xb128_in1k.py',
                              (4.4575, 224, _MMPRETRAIN_ZOO)),
    'ConvNeXt-S': _mmpretrain('convnext/convnext-small_32xb128_in1k.py',
                              (8.6870, 224, _MMPRETRAIN_ZOO)),
    'ConvNeXt-B': _mmpretrain('convnext/convnext-base_32xb128_in1k.py',
                              (15.3591, 224, _MMPRETRAIN_ZOO)),
    'Swin-T': _mmpretrain('swin_transformer/swin-tiny_16xb64_in1k.py',
                          (4.36, 224, _MMPRETRAIN_ZOO)),
    'Swin-S': _mmpretrain('swin_transformer/swin-small_16xb64_in1k.py',
                          (8.52, 224, _MMPRETRAIN_ZOO)),
    'Swin-B': _mmpretrain('swin_transformer/swin-base_16xb64_in1k.py',
                          (15.14, 224, _MMPRETRAIN_ZOO)),
    'ResNet-50': _mmpretrain('resnet/resnet50_8xb32_in1k.py', (4.12, 224, _MMPRETRAIN_ZOO)),
    'PVT-Tiny': _pvt([2, 2, 2, 2], (1.9, 224, _PAPER)),
    'PVT-Small': _pvt([3, 4, 6, 3], (3.8, 224, _PAPER)),
    'PVT-Medium': _pvt([3, 4, 18, 3], (6.7, 224, _PAPER)),
    'PVT-Large': _pvt([3, 8, 27, 3], (9.8, 224, _PAPER)),
    # The whole network but the classifier. timm's features_only form of
    # GhostNet ends at the first stride-32 block (the last five blocks are
    # left out), and TIMMBackbone's full form drops timm's average pooling,
    # which puts the 1x1 head conv on the 7x7 map (78M MACs that GhostNet
    # does not have); the pooling is put back after building.
    'GhostNet-x1.3': dict(library='timm', backbone=dict(
        type='mmpretrain.TIMMBackbone', model_name='ghostnet_130', features_only=False,
        pretrained=False), published=(0.226, 224, _PAPER), restore_pool=True),
}

# FasterNet rows: name -> arch of this package's backbone.
FASTERNET = {f'FasterNet-{a.upper()}': a for a in ('t0', 't1', 't2', 's', 'm', 'l')}


def peer_backbone_cfg(name: str) -> dict:
    """The backbone config of peer ``name`` (a :data:`PEERS` key), as its
    library configures it; type names carry their scope
    (``mmpretrain.ShuffleNetV2``)."""
    if name not in PEERS:
        raise ConfigError(f'Unknown peer {name!r}; known: {", ".join(sorted(PEERS))}.')
    entry = PEERS[name]
    if entry['library'] != 'mmpretrain':
        return dict(entry['backbone'])
    from mmengine.config import Config

    from ..apis.config import resolve_config_path
    cfg = Config.fromfile(resolve_config_path(entry['config'])).model.backbone.to_dict()
    cfg.update(entry['backbone'])
    return scoped(cfg, 'mmpretrain')


def scoped(cfg: dict, scope: Optional[str]) -> dict:
    """``cfg`` with its ``type`` prefixed by ``scope`` (``ShuffleNetV2`` ->
    ``mmpretrain.ShuffleNetV2``) unless it has a scope already or is
    FasterNet, which this package registers in the root registry."""
    cfg = dict(cfg)
    kind = cfg.get('type')
    if scope and isinstance(kind, str) and '.' not in kind and kind != 'FasterNet':
        cfg['type'] = f'{scope}.{kind}'
    return cfg


def build_backbone(cfg: dict, scope: Optional[str] = None) -> nn.Module:
    """Build a backbone config through mmengine's registries, in eval mode.
    ``type`` may carry a scope (``mmpretrain.X``, ``mmdet.X``); an unscoped
    one is looked up in ``scope`` (see :func:`scoped`)."""
    import mmdet.models  # noqa: F401  registers mmdet's backbones
    import mmpretrain.models  # noqa: F401  registers mmpretrain's backbones
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS

    # Synchronised batch norms (RTMDet's SyncBN) become plain ones, as
    # mmengine's runner makes them outside distributed runs.
    model = revert_sync_batchnorm(MODELS.build(scoped(cfg, scope)))
    model.eval()  # not chained: some train() overrides return None
    return model


def build_peer(name: str) -> nn.Module:
    """Peer ``name`` (a :data:`PEERS` or :data:`FASTERNET` key) as a backbone
    in eval mode, weights random."""
    if name in FASTERNET:
        from ..models.backbones.fasternet import FasterNet
        return FasterNet(arch=FASTERNET[name]).eval()
    model = build_backbone(peer_backbone_cfg(name))
    if PEERS[name].get('restore_pool'):
        model.timm_model.reset_classifier(0, 'avg')
    return model


__all__ = ['UNAVAILABLE', 'PEERS', 'FASTERNET', 'peer_backbone_cfg', 'scoped',
           'build_backbone', 'build_peer']
