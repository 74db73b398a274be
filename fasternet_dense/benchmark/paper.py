"""The paper's speed tables (arXiv 2303.03667 v3), as data.

Protocol of the paper: GPU RTX 2080Ti, throughput at batch 32; CPU Intel
i9-9900X, one thread, latency at batch 1; ARM Cortex-A72, one thread, batch
1; 224x224 input; batch norms folded; PyTorch 1.11 fp32. FLOPs are
multiply-adds.
"""

# Table 1: ten stacked layers of each operator on four feature maps (C, H, W).
# (operator, map): (MFLOPs, GPU img/s, GPU GFLOP/s, CPU ms, CPU GFLOP/s, ARM ms, ARM GFLOP/s)
OPERATOR_MAPS = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))
OPERATORS = ('Conv 3x3', 'GConv 3x3 (16 groups)', 'DWConv 3x3', 'PConv 3x3 (r=1/4)')
TABLE1 = {
    ('Conv 3x3', (96, 56, 56)): (2601, 3010, 7824, 35.67, 72.90, 779.57, 3.33),
    ('Conv 3x3', (192, 28, 28)): (2601, 4893, 12717, 28.41, 91.53, 619.64, 4.19),
    ('Conv 3x3', (384, 14, 14)): (2601, 4558, 11854, 31.85, 81.66, 595.09, 4.37),
    ('Conv 3x3', (768, 7, 7)): (2601, 3159, 8212, 62.71, 41.47, 662.17, 3.92),
    ('GConv 3x3 (16 groups)', (96, 56, 56)): (162, 2888, 469, 21.90, 7.42, 166.30, 0.97),
    ('GConv 3x3 (16 groups)', (192, 28, 28)): (162, 10811, 1754, 7.58, 21.44, 96.22, 1.68),
    ('GConv 3x3 (16 groups)', (384, 14, 14)): (162, 15534, 2514, 4.40, 36.88, 63.57, 2.55),
    ('GConv 3x3 (16 groups)', (768, 7, 7)): (162, 16000, 2598, 4.28, 37.97, 65.20, 2.49),
    ('DWConv 3x3', (96, 56, 56)): (27.09, 11940, 323, 3.59, 7.52, 108.70, 0.24),
    ('DWConv 3x3', (192, 28, 28)): (13.54, 23358, 315, 1.97, 6.86, 82.01, 0.16),
    ('DWConv 3x3', (384, 14, 14)): (6.77, 46377, 313, 1.06, 6.35, 94.89, 0.07),
    ('DWConv 3x3', (768, 7, 7)): (3.38, 88889, 302, 0.68, 4.93, 150.89, 0.02),
    ('PConv 3x3 (r=1/4)', (96, 56, 56)): (162, 9215, 1493, 5.46, 29.67, 85.30, 1.90),
    ('PConv 3x3 (r=1/4)', (192, 28, 28)): (162, 14360, 2326, 3.09, 52.43, 66.46, 2.44),
    ('PConv 3x3 (r=1/4)', (384, 14, 14)): (162, 24408, 3954, 3.58, 45.25, 49.98, 3.24),
    ('PConv 3x3 (r=1/4)', (768, 7, 7)): (162, 32866, 5324, 5.02, 32.27, 48.30, 3.35),
}
TABLE1_COLUMNS = ('mflops', 'gpu_fps', 'gpu_gflops', 'cpu_ms', 'cpu_gflops', 'arm_ms',
                  'arm_gflops')

# Table 3: ImageNet-1k. FasterNet pair: the FasterNet row a model is compared with.
# name: (params M, GFLOPs, GPU img/s, CPU ms, ARM ms or None (OOM), top-1, FasterNet pair)
TABLE3 = {
    'ShuffleNetV2-x1.5': (3.5, 0.30, 4878, 12.1, 266, 72.6, 'FasterNet-T0'),
    'MobileNetV2': (3.5, 0.31, 4198, 12.2, 442, 72.0, 'FasterNet-T0'),
    'MobileViT-XXS': (1.3, 0.42, 2393, 30.8, 348, 69.0, 'FasterNet-T0'),
    'EdgeNeXt-XXS': (1.3, 0.26, 2765, 15.7, 239, 71.2, 'FasterNet-T0'),
    'FasterNet-T0': (3.9, 0.34, 6807, 9.2, 143, 71.9, 'FasterNet-T0'),
    'GhostNet-x1.3': (7.4, 0.24, 2988, 17.9, 481, 75.7, 'FasterNet-T1'),
    'ShuffleNetV2-x2': (7.4, 0.59, 3339, 17.8, 403, 74.9, 'FasterNet-T1'),
    'MobileNetV2-x1.4': (6.1, 0.60, 2711, 22.6, 650, 74.7, 'FasterNet-T1'),
    'MobileViT-XS': (2.3, 1.05, 1392, 40.8, 648, 74.8, 'FasterNet-T1'),
    'EdgeNeXt-XS': (2.3, 0.54, 1738, 24.4, 434, 75.0, 'FasterNet-T1'),
    'PVT-Tiny': (13.2, 1.94, 1266, 55.6, 708, 75.1, 'FasterNet-T1'),
    'FasterNet-T1': (7.6, 0.85, 3782, 17.7, 285, 76.2, 'FasterNet-T1'),
    'CycleMLP-B1': (15.2, 2.10, 865, 116.1, 892, 79.1, 'FasterNet-T2'),
    'PoolFormer-S12': (11.9, 1.82, 1439, 49.0, 665, 77.2, 'FasterNet-T2'),
    'MobileViT-S': (5.6, 2.03, 1039, 56.7, 941, 78.4, 'FasterNet-T2'),
    'EdgeNeXt-S': (5.6, 1.26, 1128, 39.2, 743, 79.4, 'FasterNet-T2'),
    'ResNet-50': (25.6, 4.11, 959, 73.0, 1131, 78.8, 'FasterNet-T2'),
    'FasterNet-T2': (15.0, 1.91, 1991, 33.5, 497, 78.9, 'FasterNet-T2'),
    'CycleMLP-B2': (26.8, 3.90, 528, 186.3, 1502, 81.6, 'FasterNet-S'),
    'PoolFormer-S24': (21.4, 3.41, 748, 92.8, 1261, 80.3, 'FasterNet-S'),
    'PoolFormer-S36': (30.9, 5.00, 507, 138.0, 1860, 81.4, 'FasterNet-S'),
    'ConvNeXt-T': (28.6, 4.47, 657, 86.3, 1889, 82.1, 'FasterNet-S'),
    'Swin-T': (28.3, 4.51, 609, 122.2, 1424, 81.3, 'FasterNet-S'),
    'PVT-Small': (24.5, 3.83, 689, 89.6, 1345, 79.8, 'FasterNet-S'),
    'PVT-Medium': (44.2, 6.69, 438, 143.6, 2142, 81.2, 'FasterNet-S'),
    'FasterNet-S': (31.1, 4.56, 1029, 71.2, 1103, 81.3, 'FasterNet-S'),
    'PoolFormer-M36': (56.2, 8.80, 320, 215.0, 2979, 82.1, 'FasterNet-M'),
    'ConvNeXt-S': (50.2, 8.71, 377, 153.2, 3484, 83.1, 'FasterNet-M'),
    'Swin-S': (49.6, 8.77, 348, 224.2, 2613, 83.0, 'FasterNet-M'),
    'PVT-Large': (61.4, 9.85, 306, 203.4, 3101, 81.7, 'FasterNet-M'),
    'FasterNet-M': (53.5, 8.74, 500, 129.5, 2092, 83.0, 'FasterNet-M'),
    'PoolFormer-M48': (73.5, 11.59, 242, 281.8, None, 82.5, 'FasterNet-L'),
    'ConvNeXt-B': (88.6, 15.38, 253, 257.1, None, 83.8, 'FasterNet-L'),
    'Swin-B': (87.8, 15.47, 237, 349.2, None, 83.5, 'FasterNet-L'),
    'FasterNet-L': (93.5, 15.52, 323, 219.5, None, 83.5, 'FasterNet-L'),
}
TABLE3_COLUMNS = ('params', 'flops', 'gpu_fps', 'cpu_ms', 'arm_ms', 'top1', 'pair')

# Table 4: Mask R-CNN 1x on COCO; FLOPs at 1280x800, latency on one RTX 2080Ti.
# name: (params M, GFLOPs, GPU ms, box AP, mask AP, FasterNet pair)
TABLE4 = {
    'ResNet-50': (44.2, 253, 54.9, 38.0, 34.4, 'FasterNet-S'),
    'PVT-Small': (44.1, 238, 89.5, 40.4, 37.8, 'FasterNet-S'),
    'FasterNet-S': (49.0, 258, 54.3, 39.9, 36.9, 'FasterNet-S'),
    'ResNet-101': (63.2, 329, 68.9, 40.4, 36.4, 'FasterNet-M'),
    'PVT-Medium': (63.9, 295, 117.3, 42.0, 39.0, 'FasterNet-M'),
    'FasterNet-M': (71.2, 344, 71.4, 43.0, 39.1, 'FasterNet-M'),
    'ResNeXt101-64x4d': (101.9, 487, 112.9, 42.8, 38.4, 'FasterNet-L'),
    'PVT-Large': (81.0, 358, 152.2, 42.9, 39.5, 'FasterNet-L'),
    'FasterNet-L': (110.9, 484, 93.8, 44.0, 39.9, 'FasterNet-L'),
}
TABLE4_COLUMNS = ('params', 'flops', 'gpu_ms', 'box_ap', 'mask_ap', 'pair')


def table3_row(name: str) -> dict:
    """Table 3's figures for ``name`` as a dict of :data:`TABLE3_COLUMNS`."""
    return dict(zip(TABLE3_COLUMNS, TABLE3[name]))


def table4_row(name: str) -> dict:
    """Table 4's figures for ``name`` as a dict of :data:`TABLE4_COLUMNS`."""
    return dict(zip(TABLE4_COLUMNS, TABLE4[name]))


def table1_row(operator: str, feature_map) -> dict:
    """Table 1's figures for ``operator`` on ``feature_map`` (C, H, W)."""
    return dict(zip(TABLE1_COLUMNS, TABLE1[(operator, tuple(feature_map))]))


__all__ = ['OPERATOR_MAPS', 'OPERATORS', 'TABLE1', 'TABLE1_COLUMNS', 'TABLE3', 'TABLE3_COLUMNS',
           'TABLE4', 'TABLE4_COLUMNS', 'table1_row', 'table3_row', 'table4_row']
