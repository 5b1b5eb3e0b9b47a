# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Overall accuracy, mean F1 and mean IoU for the ISPRS protocols.

Remote-sensing papers report ISPRS Potsdam/Vaihingen as OA and mF1 over
five classes with clutter ignored (RSP, RVSA, LeMeViT), mmseg as mIoU over
six. mmseg's ``IoUMetric`` can compute both but names them ``aAcc`` and
``mFscore``; :class:`ISPRSMetric` reports them under the names of the
papers, next to mIoU, from one pass over the data.
"""
from collections import OrderedDict
from typing import Dict, List, Sequence

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from terminaltables import AsciiTable

from ..registry import METRICS, register_module


def scores_from_areas(intersect: np.ndarray, union: np.ndarray,
                      pred_area: np.ndarray,
                      label_area: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-class F1 and IoU and the overall accuracy from pixel counts.

    Args:
        intersect (np.ndarray): Per class, pixels labelled and predicted as
            the class (true positives).
        union (np.ndarray): Per class, pixels labelled or predicted as it.
        pred_area (np.ndarray): Per class, pixels predicted as it.
        label_area (np.ndarray): Per class, pixels labelled as it.

    Returns:
        dict[str, np.ndarray]: ``OA`` (a 0-d array), ``F1``, ``IoU``,
        ``Precision`` and ``Recall`` per class, all in [0, 1]; a class that
        is neither labelled nor predicted gets NaN (left out of the means).
    """
    intersect, union, pred_area, label_area = (
        np.asarray(a, dtype=np.float64)
        for a in (intersect, union, pred_area, label_area))
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = intersect / pred_area
        recall = intersect / label_area
        # 2TP / (2TP + FP + FN): defined whenever the class occurs at all.
        f1 = 2 * intersect / (pred_area + label_area)
        iou = intersect / union
        overall = intersect.sum() / label_area.sum()
    return dict(
        OA=np.asarray(overall),
        F1=f1,
        IoU=iou,
        Precision=precision,
        Recall=recall)


@register_module(METRICS)
class ISPRSMetric(IoUMetric):
    """OA, mF1 and mIoU (in %) over the classes of the dataset.

    Pixels with ``ignore_index`` (255: eroded boundaries, and clutter in the
    5-class protocol where the dataset metainfo drops it) count nowhere. OA
    is the share of the remaining pixels predicted right; mF1 and mIoU
    average the per-class F1 and IoU over the classes that occur in the
    labels or predictions. A per-class table (F1, IoU, precision, recall)
    is logged.

    Args:
        ignore_index (int): Label value left out of every count.
            Defaults to 255.
        **kwargs: Other arguments of :class:`mmseg.evaluation.IoUMetric`
            (``collect_device``, ``prefix``, ``format_only``...);
            ``iou_metrics`` is not used.
    """

    def __init__(self, ignore_index: int = 255, **kwargs) -> None:
        kwargs.pop('iou_metrics', None)
        super().__init__(ignore_index=ignore_index, **kwargs)

    def compute_metrics(self, results: List[Sequence]) -> Dict[str, float]:
        """Sum the per-image pixel counts and score them.

        Args:
            results (list): ``(intersect, union, pred_area, label_area)``
                per image, as :meth:`IoUMetric.process` stores them.

        Returns:
            dict[str, float]: ``OA``, ``mF1`` and ``mIoU`` in percent.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            return OrderedDict()
        totals = [sum(column).numpy() for column in zip(*results)]
        scores = scores_from_areas(*totals)

        class_names = self.dataset_meta['classes']
        rows = [['Class', 'F1', 'IoU', 'Precision', 'Recall']]
        for i, name in enumerate(class_names):
            rows.append([name] + [
                f'{scores[key][i] * 100:.2f}'
                for key in ('F1', 'IoU', 'Precision', 'Recall')
            ])
        print_log('per class results:\n' + AsciiTable(rows).table, logger)

        def percent(value) -> float:
            return float(np.round(value * 100, 2))

        return OrderedDict(
            OA=percent(scores['OA']),
            mF1=percent(np.nanmean(scores['F1'])),
            mIoU=percent(np.nanmean(scores['IoU'])))
