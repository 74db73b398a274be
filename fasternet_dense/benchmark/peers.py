"""The published peers of FasterNet, built by the libraries that maintain them.

:data:`PEERS` says how each peer of the paper's tables (:mod:`.paper`) is
built: from an mmpretrain ImageNet config with its own arch settings, as
mmdet's PVT, as a timm model through ``mmpretrain.TIMMBackbone``, or as a
torchvision model. The backbone (the whole network but the classifier) is
what is timed and counted, except where the classifier is a sizeable part of
the network (SqueezeNet's, see its entry). :data:`UNAVAILABLE` lists the
Table 3 rows no installed library builds.
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
                top1: Optional[Tuple[float, str]] = None, **backbone) -> dict:
    entry = dict(library='mmpretrain', config=f'mmpretrain::{config}', backbone=backbone,
                 published=published)
    return dict(entry, top1=top1) if top1 else entry


def _timm_classifier(model_name: str, published: Tuple[float, int, str],
                     top1: Optional[Tuple[float, str]] = None) -> dict:
    """A timm classification network but its classifier, through
    TIMMBackbone's full form with timm's average pooling put back (see
    GhostNet-x1.3's entry)."""
    entry = dict(library='timm', backbone=dict(
        type='mmpretrain.TIMMBackbone', model_name=model_name, features_only=False,
        pretrained=False), published=published, restore_pool=True)
    return dict(entry, top1=top1) if top1 else entry


def _pvt(layers, published) -> dict:
    return dict(library='mmdet', backbone=dict(type='mmdet.PyramidVisionTransformer',
                                               num_layers=layers), published=published)


_MMPRETRAIN_ZOO = 'mmpretrain 1.2.0 model zoo (metafile.yml)'
_TORCHVISION_ZOO = 'torchvision 0.28 model zoo (SqueezeNet1_1_Weights.IMAGENET1K_V1.meta)'
# A paper counts the multiply-adds of convolutions and linear layers, batch
# norms folded away; the libraries' zoos count the built network with a
# tracing counter, batch norms included. The FLOP check counts each figure's
# way (tests/test_benchmark/test_suites.py).
PAPER = 'the model\'s own paper'
_GHOSTNETV2_PAPER = 'the GhostNetV2 paper (Tang et al., NeurIPS 2022)'

# How each peer is built. ``published``: (GFLOPs, input side, source) that the
# FLOP count is checked against; mmpretrain's figures for MobileViT and
# EdgeNeXt are at their 256x256 test size. ``top1``: (ImageNet-1k top-1 %,
# source) of the peers outside Table 3, which has its own column for the rest.
PEERS: Dict[str, dict] = {
    'ShuffleNetV2-x1.5': _mmpretrain('shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
                                     (0.299, 224, PAPER), widen_factor=1.5),
    'ShuffleNetV2-x2': _mmpretrain('shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py',
                                   (0.591, 224, PAPER), widen_factor=2.0),
    'MobileNetV2': _mmpretrain('mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
                               (0.319, 224, _MMPRETRAIN_ZOO)),
    'MobileNetV2-x1.4': _mmpretrain('mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
                                    (0.585, 224, PAPER), widen_factor=1.4),
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
                                      (3.9, 224, PAPER)),
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
    'PVT-Tiny': _pvt([2, 2, 2, 2], (1.9, 224, PAPER)),
    'PVT-Small': _pvt([3, 4, 6, 3], (3.8, 224, PAPER)),
    'PVT-Medium': _pvt([3, 4, 18, 3], (6.7, 224, PAPER)),
    'PVT-Large': _pvt([3, 8, 27, 3], (9.8, 224, PAPER)),
    # The whole network but the classifier. timm's features_only form of
    # GhostNet ends at the first stride-32 block (the last five blocks are
    # left out), and TIMMBackbone's full form drops timm's average pooling,
    # which puts the 1x1 head conv on the 7x7 map (78M MACs that GhostNet
    # does not have); the pooling is put back after building.
    'GhostNet-x1.3': _timm_classifier('ghostnet_130', (0.226, 224, PAPER)),
    # ShuffleNetV1 1.0x with 3 groups (Zhang et al., CVPR 2018).
    'ShuffleNetV1-g3': _mmpretrain('shufflenet_v1/shufflenet-v1-1x_16xb64_in1k.py',
                                   (0.146, 224, _MMPRETRAIN_ZOO), (68.13, _MMPRETRAIN_ZOO),
                                   groups=3),
    # GhostNetV2 (Tang et al., NeurIPS 2022): timm's GhostNet with the V2
    # blocks, built as GhostNet-x1.3 is; the paper's ImageNet figures.
    'GhostNetV2-x1.0': _timm_classifier('ghostnetv2_100', (0.167, 224, PAPER),
                                        (75.3, _GHOSTNETV2_PAPER)),
    'GhostNetV2-x1.3': _timm_classifier('ghostnetv2_130', (0.269, 224, PAPER),
                                        (76.9, _GHOSTNETV2_PAPER)),
    'GhostNetV2-x1.6': _timm_classifier('ghostnetv2_160', (0.399, 224, PAPER),
                                        (77.8, _GHOSTNETV2_PAPER)),
    # The classification network whole: SqueezeNet's classifier is a 1x1
    # conv to the 1000 classes on the 13x13 map, 86M of its 349M FLOPs, and
    # its published figure counts it. Dense rows take the feature network
    # through this package's SqueezeNet backbone (``backbone``).
    'SqueezeNet-v1.1': dict(library='torchvision', model='squeezenet1_1',
                            backbone=dict(type='SqueezeNet', arch='1_1'),
                            published=(0.349, 224, _TORCHVISION_ZOO),
                            top1=(58.178, _TORCHVISION_ZOO)),
}

# FasterNet rows: name -> arch of this package's backbone.
FASTERNET = {f'FasterNet-{a.upper()}': a for a in ('t0', 't1', 't2', 's', 'm', 'l')}


def peer_backbone_cfg(name: str) -> dict:
    """The backbone config of peer ``name`` (a :data:`PEERS` key), as its
    library configures it (a torchvision peer: this package's backbone over
    its feature network); type names carry their scope
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
    (a torchvision peer: its classification network) in eval mode, weights
    random."""
    if name in FASTERNET:
        from ..models.backbones.fasternet import FasterNet
        return FasterNet(arch=FASTERNET[name]).eval()
    if PEERS.get(name, {}).get('library') == 'torchvision':
        import torchvision
        return torchvision.models.get_model(PEERS[name]['model'], weights=None).eval()
    model = build_backbone(peer_backbone_cfg(name))
    if PEERS[name].get('restore_pool'):
        model.timm_model.reset_classifier(0, 'avg')
    return model


__all__ = ['UNAVAILABLE', 'PAPER', 'PEERS', 'FASTERNET', 'peer_backbone_cfg', 'scoped',
           'build_backbone', 'build_peer']
