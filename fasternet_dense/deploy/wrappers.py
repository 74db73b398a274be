"""A one-stage detector (RTMDet, RetinaNet) as one ONNX graph: image in,
boxes, scores and labels out, with box decoding and per-class NMS inside.

:class:`DetectorForExport` repeats mmdet's post-processing of a dense head
(``BaseDenseHead._predict_by_feat_single`` and ``_bbox_post_process``) in
operations that export: per level, the ``nms_pre`` best (prior, class)
pairs above ``score_thr``; boxes decoded by the head's own coder and
clipped to the input; empty boxes dropped; ONNX ``NonMaxSuppression`` per
class at the config's IoU threshold; the ``max_per_img`` best. Boxes are in
the input's pixels: scaling them back to the original image (mmdet's
``rescale``) is left to the caller, who knows the scale factor.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..utils.errors import ConfigError

# The score a candidate that must not survive is given: below any sigmoid
# score and below NonMaxSuppression's score threshold.
DROPPED = -1.0


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` (per class, corner boxes): ``boxes``
    ``(1, M, 4)``, ``scores`` ``(1, C, M)`` -> selected ``(K, 3)`` int64
    rows ``(batch, class, box)``. Eager mode computes the same with mmcv's
    NMS, class by class; candidates scored at or below ``score_thr`` are
    left out."""

    @staticmethod
    def forward(ctx, boxes, scores, iou_thr: float, score_thr: float):
        from mmcv.ops import nms
        rows = []
        for c in range(scores.shape[1]):
            valid = torch.nonzero(scores[0, c] > score_thr).flatten()
            if not len(valid):
                continue
            _, keep = nms(boxes[0, valid], scores[0, c, valid], iou_thr)
            kept = valid[keep]
            rows.append(torch.stack([torch.zeros_like(kept), torch.full_like(kept, c), kept],
                                    dim=1))
        if not rows:
            return torch.zeros((0, 3), dtype=torch.int64)
        return torch.cat(rows).to(torch.int64)

    @staticmethod
    def symbolic(g, boxes, scores, iou_thr: float, score_thr: float):
        max_out = g.op('Constant', value_t=torch.tensor([2**31 - 1], dtype=torch.int64))
        iou = g.op('Constant', value_t=torch.tensor([iou_thr], dtype=torch.float))
        score = g.op('Constant', value_t=torch.tensor([score_thr], dtype=torch.float))
        return g.op('NonMaxSuppression', boxes, scores, max_out, iou, score,
                    center_point_box_i=0)


def _nms_iou(nms_cfg: dict) -> float:
    cfg = dict(nms_cfg)
    if cfg.pop('type', 'nms') != 'nms' or cfg.pop('class_agnostic', False):
        raise ConfigError(f'Export covers per-class nms; the config asks for {nms_cfg}.')
    return float(cfg['iou_threshold'])


class DetectorForExport(nn.Module):
    """A one-stage mmdet detector as ``image -> (boxes, scores, labels)``.

    Input ``(1, 3, H, W)`` float, an RGB image in 0-255 at the network's
    input size (normalised inside as the model's data preprocessor does).
    Outputs ``boxes`` ``(K, 4)`` (x1, y1, x2, y2 in input pixels),
    ``scores`` ``(K, )`` and ``labels`` ``(K, )`` int64, best first,
    ``K <= max_per_img``.
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        head = getattr(detector, 'bbox_head', None)
        if head is None or hasattr(detector, 'roi_head') or not hasattr(head, 'prior_generator'):
            raise ConfigError('Whole-detector export covers one-stage detectors with a dense '
                              'head (RTMDet, RetinaNet); for Mask R-CNN export the backbone '
                              '(--backbone-only) or use mmdeploy.')
        if not head.use_sigmoid_cls or getattr(head.loss_cls, 'custom_cls_channels', False):
            raise ConfigError('Export covers heads with sigmoid class scores.')
        self.detector = detector
        self.head = head
        cfg = head.test_cfg
        self.nms_pre = cfg.get('nms_pre', -1)
        self.score_thr = float(cfg.get('score_thr', 0))
        self.min_bbox_size = cfg.get('min_bbox_size', -1)
        self.iou_thr = _nms_iou(cfg['nms'])
        self.max_per_img = cfg['max_per_img']
        self.normalize = RawImageNormalizer(detector.data_preprocessor)

    def _level_candidates(self, cls_score, bbox_pred, priors) -> Tuple[torch.Tensor, ...]:
        """The ``nms_pre`` best (prior, class) pairs of one level: scores,
        labels, box predictions and priors."""
        head = self.head
        num_classes = head.cls_out_channels
        bbox_pred = bbox_pred[0].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
        scores = cls_score[0].permute(1, 2, 0).reshape(-1, num_classes).sigmoid().reshape(-1)
        k = scores.shape[0] if self.nms_pre <= 0 else min(self.nms_pre, scores.shape[0])
        scores, index = scores.topk(k)
        # Pairs at or below the threshold stay in the fixed-size list but
        # cannot survive NMS (mmdet filters them before its top-k).
        scores = torch.where(scores > self.score_thr, scores, torch.full_like(scores, DROPPED))
        prior_index = torch.div(index, num_classes, rounding_mode='floor')
        return scores, index % num_classes, bbox_pred[prior_index], priors[prior_index]

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.normalize(image)
        cls_scores, bbox_preds = self.head(self.detector.extract_feat(x))[:2]
        sizes = [c.shape[-2:] for c in cls_scores]
        priors = self.head.prior_generator.grid_priors(sizes, dtype=x.dtype, device=x.device)
        parts: List[Tuple[torch.Tensor, ...]] = [
            self._level_candidates(c, b, p) for c, b, p in zip(cls_scores, bbox_preds, priors)]
        scores, labels, deltas, points = (torch.cat(t) for t in zip(*parts))
        # Decoded without mmdet's clipping (its export branch imports a
        # module mmdet 3 no longer has), then clipped to the input the same way.
        boxes = self.head.bbox_coder.decode(points, deltas)
        boxes = _clip(boxes, *image.shape[-2:])
        if self.min_bbox_size >= 0:
            w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            small = (w <= self.min_bbox_size) | (h <= self.min_bbox_size)
            scores = torch.where(small, torch.full_like(scores, DROPPED), scores)
        # One row of scores per class, DROPPED where the candidate is of
        # another class: per-class NMS in one operation.
        classes = torch.arange(self.head.cls_out_channels, device=x.device).view(-1, 1)
        per_class = torch.where(labels.view(1, -1) == classes, scores.view(1, -1),
                                torch.full_like(scores.view(1, -1), DROPPED))
        selected = _NonMaxSuppression.apply(boxes.unsqueeze(0), per_class.unsqueeze(0),
                                            self.iou_thr, DROPPED / 2)
        keep = selected[:, 2]
        best_scores, order = _best(scores[keep], self.max_per_img)
        return boxes[keep][order], best_scores, labels[keep][order]


class _RoiAlign(torch.autograd.Function):
    """ONNX ``RoiAlign`` (opset 16, ``half_pixel``, average): ``feat``
    ``(1, C, H, W)``, ``boxes`` ``(K, 4)`` corner boxes in input pixels ->
    ``(K, C, out, out)``. Eager mode computes it with mmcv's ``roi_align``
    (``aligned=True``), the operation mmdet's RoI extractors run; opset 16's
    ``half_pixel`` mode is the same half-pixel shift."""

    @staticmethod
    def forward(ctx, feat, boxes, out_size: int, spatial_scale: float, sampling_ratio: int):
        from mmcv.ops import roi_align
        rois = torch.cat([torch.zeros_like(boxes[:, :1]), boxes], dim=1)
        return roi_align(feat, rois, (out_size, out_size), spatial_scale, sampling_ratio,
                         'avg', True)

    @staticmethod
    def symbolic(g, feat, boxes, out_size: int, spatial_scale: float, sampling_ratio: int):
        count = g.op('Gather', g.op('Shape', boxes),
                     g.op('Constant', value_t=torch.tensor([0], dtype=torch.int64)), axis_i=0)
        batch = g.op('ConstantOfShape', count, value_t=torch.tensor([0], dtype=torch.int64))
        return g.op('RoiAlign', feat, boxes, batch, coordinate_transformation_mode_s='half_pixel',
                    mode_s='avg', output_height_i=out_size, output_width_i=out_size,
                    sampling_ratio_i=sampling_ratio, spatial_scale_f=spatial_scale)


def _batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor,
                 iou_thr: float, score_thr: float = DROPPED / 2) -> torch.Tensor:
    """Indices of the boxes that survive NMS within their group (class or
    level), best first, as mmcv's ``batched_nms`` computes them: each group
    shifted by ``group * (largest coordinate + 1)`` so that no two groups
    overlap, then one NMS."""
    # The largest coordinate, 0 when there are no boxes (boxes are clipped
    # to the image, so never negative).
    largest = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()
    offsets = groups.to(boxes.dtype) * (largest + 1)
    shifted = boxes + offsets[:, None]
    selected = _NonMaxSuppression.apply(shifted.unsqueeze(0), scores.view(1, 1, -1), iou_thr,
                                        score_thr)
    return selected[:, 2]


def _best(scores: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best ``scores`` (fewer when fewer are above ``DROPPED``) and
    their indices: padding keeps TopK's k fixed whatever the count."""
    pad = torch.full((k, ), DROPPED, dtype=scores.dtype, device=scores.device)
    best, order = torch.cat([scores, pad]).topk(k)
    real = torch.nonzero(best > DROPPED / 2).flatten()
    return best[real], order[real]


def _clip(boxes: torch.Tensor, height, width) -> torch.Tensor:
    """Corner boxes ``(N, 4)`` clipped to a ``height`` x ``width`` image."""
    return torch.stack([boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                        boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)], dim=1)


class TwoStageDetectorForExport(nn.Module):
    """A two-stage mmdet detector (Faster R-CNN, Mask R-CNN: RPN and a
    standard RoI head) as ``image -> (boxes, scores, labels[, masks])``,
    in standard ONNX operators only.

    Input ``(1, 3, H, W)`` float, an RGB image in 0-255 as the test pipeline
    leaves it (resized, before the batch padding); any H and W. Inside, as
    mmdet computes it (``TwoStageDetector.predict``): normalisation and
    zero padding to the data preprocessor's ``pad_size_divisor``; the RPN's
    ``nms_pre`` best anchors per level, decoded and clipped to the image,
    boxes with a side at or below ``min_bbox_size`` dropped, NMS within each
    level and the ``max_per_img`` best proposals; each proposal pooled from
    its FPN level with ``RoiAlign``; the box head's softmax scores and
    class-specific boxes, candidates above ``score_thr``, NMS within each
    class and the ``max_per_img`` best; the mask head on those boxes.

    Outputs ``boxes`` ``(K, 4)`` (x1, y1, x2, y2 in input pixels),
    ``scores`` ``(K, )``, ``labels`` ``(K, )`` int64, best first, and for
    Mask R-CNN ``masks`` ``(K, M, M)``: each box's mask probabilities for its
    class at the mask head's resolution (28x28). Pasting them into the image
    (mmdet's ``FCNMaskHead.predict_by_feat``) is left to the caller, as
    scaling the boxes to the original image is.
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        roi_head = getattr(detector, 'roi_head', None)
        if roi_head is None or not hasattr(detector, 'rpn_head') or \
                not hasattr(roi_head, 'bbox_head') or \
                isinstance(roi_head.bbox_head, nn.ModuleList):
            raise ConfigError('Two-stage export covers an RPN and one standard RoI head '
                              '(Faster R-CNN, Mask R-CNN); cascades are not covered.')
        bbox_head = roi_head.bbox_head
        if bbox_head.custom_cls_channels or getattr(bbox_head.loss_cls, 'use_sigmoid', False):
            raise ConfigError('Two-stage export covers box heads with softmax class scores.')
        self.detector = detector
        self.rpn_head, self.roi_head = detector.rpn_head, roi_head
        self.with_mask = bool(roi_head.with_mask)
        if self.with_mask and getattr(roi_head.mask_head, 'class_agnostic', False):
            raise ConfigError('Two-stage export covers class-specific mask heads.')
        self.rpn_cfg, self.rcnn_cfg = detector.rpn_head.test_cfg, roi_head.test_cfg
        _nms_iou(self.rpn_cfg['nms']), _nms_iou(self.rcnn_cfg['nms'])  # refuse others early
        self.normalize = RawImageNormalizer(detector.data_preprocessor)
        self.pad_divisor = int(getattr(detector.data_preprocessor, 'pad_size_divisor', 1))

    # ------------------------------------------------------------------ RPN
    def _proposals(self, feats, height, width) -> torch.Tensor:
        head, cfg = self.rpn_head, self.rpn_cfg
        cls_scores, bbox_preds = head(feats)
        nms_pre = cfg.get('nms_pre', -1)
        scores, deltas, anchors, levels = [], [], [], []
        for level, (cls_score, bbox_pred) in enumerate(zip(cls_scores, bbox_preds)):
            score = cls_score[0].permute(1, 2, 0).reshape(-1).sigmoid()
            delta = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            anchor = self._anchors(level, cls_score)
            if nms_pre > 0:
                # The nms_pre best of the level, or all of them when fewer.
                score, index = _best(score, nms_pre)
                delta, anchor = delta[index], anchor[index]
            scores.append(score)
            deltas.append(delta)
            anchors.append(anchor)
            levels.append(torch.full_like(score, level, dtype=torch.int64))
        scores, deltas, anchors, levels = (torch.cat(t) for t in (
            scores, deltas, anchors, levels))
        boxes = _clip(self._decode(head.bbox_coder, anchors, deltas), height, width)
        min_size = cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            valid = torch.nonzero((w > min_size) & (h > min_size)).flatten()
            boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
        keep = _batched_nms(boxes, scores, levels, _nms_iou(cfg['nms']))
        _, order = _best(scores[keep], cfg['max_per_img'])
        return boxes[keep[order]]

    def _anchors(self, level: int, cls_score: torch.Tensor) -> torch.Tensor:
        """The level's anchors ``(H * W * A, 4)`` for a feature map of any
        size, in mmdet's order (position-major, then base anchor)."""
        generator = self.rpn_head.prior_generator
        base = generator.base_anchors[level].to(cls_score)
        stride_w, stride_h = generator.strides[level]
        h, w = cls_score.shape[-2:]
        xs = torch.arange(w, device=cls_score.device).to(cls_score.dtype) * stride_w
        ys = torch.arange(h, device=cls_score.device).to(cls_score.dtype) * stride_h
        xx = (xs.view(1, -1) + ys.view(-1, 1) * 0).reshape(-1)
        yy = (ys.view(-1, 1) + xs.view(1, -1) * 0).reshape(-1)
        shifts = torch.stack([xx, yy, xx, yy], dim=1)
        return (shifts[:, None, :] + base[None]).reshape(-1, 4)

    @staticmethod
    def _decode(coder, priors: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
        """mmdet's ``delta2bbox`` (the coder's eager branch; its ONNX branch
        is a batched one), unclipped."""
        from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
        return delta2bbox(priors, deltas, coder.means, coder.stds, None, 16 / 1000,
                          False, coder.add_ctr_clamp, coder.ctr_clamp)

    # ------------------------------------------------------------- RoI head
    def _pool(self, extractor, feats, boxes: torch.Tensor) -> torch.Tensor:
        """mmdet's ``SingleRoIExtractor``: each box pooled from the level its
        size maps to. The boxes are pooled level by level and put back in
        their order by the inverse permutation, without a branch on the
        (data-dependent) counts and without scattering into a buffer."""
        feats = feats[:extractor.num_inputs]
        size = extractor.roi_layers[0].output_size
        size = int(size[0] if isinstance(size, (tuple, list)) else size)
        scale = torch.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
        levels = torch.floor(torch.log2(scale / extractor.finest_scale + 1e-6)).clamp(
            0, len(feats) - 1).long()
        order, pooled = [], []
        for i, (feat, layer) in enumerate(zip(feats, extractor.roi_layers)):
            if not layer.aligned or layer.pool_mode != 'avg':
                raise ConfigError('Two-stage export covers RoIAlign with aligned=True and '
                                  'average pooling.')
            inds = torch.nonzero(levels == i)[:, 0]
            order.append(inds)
            pooled.append(_RoiAlign.apply(feat, boxes[inds], size, float(layer.spatial_scale),
                                          int(layer.sampling_ratio)))
        return torch.cat(pooled)[torch.argsort(torch.cat(order))]

    def _detections(self, feats, proposals, height, width):
        roi_head, head, cfg = self.roi_head, self.roi_head.bbox_head, self.rcnn_cfg
        cls_score, bbox_pred = head(self._pool(roi_head.bbox_roi_extractor, feats, proposals))
        num_classes = head.num_classes
        scores = F.softmax(cls_score, dim=-1)[:, :num_classes]
        labels = torch.arange(num_classes, device=scores.device).view(1, -1).expand_as(scores)
        per_box = 1 if head.reg_class_agnostic else num_classes
        deltas = bbox_pred.reshape(-1, 4)
        boxes = _clip(self._decode(head.bbox_coder, proposals.repeat_interleave(per_box, dim=0),
                                   deltas), height, width).view(-1, per_box, 4)
        boxes = boxes.expand(-1, num_classes, -1).reshape(-1, 4)
        scores, labels = scores.reshape(-1), labels.reshape(-1)
        valid = torch.nonzero(scores > float(cfg.get('score_thr', 0))).flatten()
        boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
        keep = _batched_nms(boxes, scores, labels, _nms_iou(cfg['nms']))
        best, order = _best(scores[keep], cfg['max_per_img'])
        keep = keep[order]
        return boxes[keep], best, labels[keep]

    def _masks(self, feats, boxes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.roi_head.mask_head(self._pool(self.roi_head.mask_roi_extractor, feats,
                                                    boxes))
        picked = torch.gather(logits, 1, labels.view(-1, 1, 1, 1).expand(
            -1, 1, *logits.shape[-2:]))
        return picked[:, 0].sigmoid()

    def forward(self, image: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        height, width = image.shape[-2:]
        x = self.normalize(image)
        if self.pad_divisor > 1:
            # mmdet pads the normalised batch with zeros to the divisor.
            d = self.pad_divisor
            x = F.pad(x, (0, (d - width % d) % d, 0, (d - height % d) % d))
        feats = self.detector.extract_feat(x)
        proposals = self._proposals(feats, height, width)
        boxes, scores, labels = self._detections(feats, proposals, height, width)
        if not self.with_mask:
            return boxes, scores, labels
        return boxes, scores, labels, self._masks(feats, boxes, labels)


class SegmentorForExport(nn.Module):
    """A mmseg ``EncoderDecoder`` as ``image -> seg logits``.

    Input ``(N, 3, H, W)`` float: with ``raw_input`` an RGB image in 0-255
    (normalized inside with the model's data preprocessor mean and std),
    otherwise the already normalized tensor the data preprocessor would emit.
    Output ``(N, num_classes, H, W)``: the decode head's logits resized to
    the input size, as mmseg's whole-image inference computes them for an
    unpadded image.
    """

    def __init__(self, segmentor: nn.Module, raw_input: bool = True):
        super().__init__()
        self.segmentor = segmentor
        self.raw_input = raw_input
        self.normalize = RawImageNormalizer(segmentor.data_preprocessor)
        self.align_corners = segmentor.decode_head.align_corners

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.normalize(image) if self.raw_input else image
        logits = self.segmentor.decode_head(self.segmentor.extract_feat(x))
        return F.interpolate(logits, size=image.shape[-2:], mode='bilinear',
                             align_corners=self.align_corners)


class RawImageNormalizer(nn.Module):
    """A 0-255 RGB image ``(N, 3, H, W)`` as the network input the model's
    data preprocessor ``pre`` would make of the same picture, and back.

    Pipelines load BGR; the preprocessor flips it to RGB when the network
    expects RGB (mmseg names that flag ``channel_conversion``, mmengine
    ``_channel_conversion``), then subtracts the mean and divides by the std.
    """

    def __init__(self, pre: nn.Module):
        super().__init__()
        self.register_buffer('mean', pre.mean.detach().clone().view(1, -1, 1, 1))
        self.register_buffer('std', pre.std.detach().clone().view(1, -1, 1, 1))
        self.rgb_network = bool(getattr(pre, 'channel_conversion',
                                        getattr(pre, '_channel_conversion', False)))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb if self.rgb_network else rgb[:, [2, 1, 0]]
        return (x - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The 0-255 RGB image of a preprocessed batch."""
        x = x * self.std + self.mean
        return x if self.rgb_network else x[:, [2, 1, 0]]


__all__ = ['DetectorForExport', 'RawImageNormalizer', 'SegmentorForExport',
           'TwoStageDetectorForExport']
