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
        h, w = image.shape[-2:]
        boxes = torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h),
                             boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)], dim=1)
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
        kept_scores = scores[keep]
        # The max_per_img best; padding keeps TopK's k fixed when fewer remain.
        pad = torch.full((self.max_per_img, ), DROPPED, dtype=scores.dtype, device=x.device)
        best_scores, order = torch.cat([kept_scores, pad]).topk(self.max_per_img)
        real = torch.nonzero(best_scores > DROPPED / 2).flatten()
        order = order[real]
        return boxes[keep][order], best_scores[real], labels[keep][order]


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


__all__ = ['DetectorForExport', 'RawImageNormalizer', 'SegmentorForExport']
