# Copyright (c) sparse_backbones contributors. All rights reserved.
"""DOTA evaluation on full images, as the official devkit and server do it.

Detectors run on patches (``P0000__1024__824___0.png``); DOTA scores full
images. :class:`DOTAMetric` therefore

1. shifts every patch detection back into its source image (the offset and
   the multi-scale rate are read from the patch name, see
   :func:`~sparse_backbones.datasets.dota_labels.parse_dota_patch_name`),
2. merges the detections of all patches of an image with class-wise NMS
   (horizontal boxes for Task2; polygons for Task1, as the devkit's
   ``ResultMerge.py``),
3. scores them against the original full-image labels with the VOC07
   11-point AP at IoU 0.5, difficult objects ignored:

   - Task2 (horizontal boxes): the enclosing box of each label polygon, IoU
     with the devkit's ``+1`` pixel convention (``dota_evaluation_task2.py``);
   - Task1 (oriented boxes): each predicted instance mask becomes its
     minimum-area rotated rectangle (``cv2.minAreaRect``), compared with the
     label polygons by exact polygon IoU (shapely), as
     ``dota_evaluation_task1.py`` does with its ``polyiou`` extension.

With ``format_only=True`` it writes the files the evaluation server takes
instead: ``Task1_<class>.txt`` (``image score x1 y1 ... x4 y4``) and
``Task2_<class>.txt`` (``image score xmin ymin xmax ymax``), one per class.
"""
import os
import os.path as osp
import warnings
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import shapely
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from terminaltables import AsciiTable
from torchvision.ops import batched_nms

from ..datasets._common import summarise
from ..datasets.dota_labels import parse_dota_label_file, parse_dota_patch_name
from ..registry import METRICS, register_module

__all__ = [
    'DOTAMetric', 'mask_to_polygon', 'merge_detections', 'voc07_ap',
    'hbb_overlaps', 'polygon_overlaps', 'evaluate_class'
]

TASKS = ('task1', 'task2')
# ResultMerge.py of the DOTA devkit merges patch results with NMS at 0.3.
DEVKIT_MERGE_IOU = 0.3


# -------------------------------------------------------------- geometry --
def mask_to_polygon(mask: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """Minimum-area rotated rectangle of a binary mask, as 4 corners.

    Only the mask inside ``box`` (rounded outwards) is searched, which keeps
    this cheap for the full-patch masks of mmdet. An empty mask falls back to
    the corners of ``box``.

    Args:
        mask (np.ndarray): ``(H, W)`` bool or 0/1 array.
        box (Sequence[float]): ``(x1, y1, x2, y2)`` of the same detection.

    Returns:
        np.ndarray: ``(8, )`` float32 ``x1, y1, ..., x4, y4``.
    """
    height, width = mask.shape
    x1, y1, x2, y2 = (float(v) for v in box)
    left, top = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
    right = min(int(np.ceil(x2)) + 1, width)
    bottom = min(int(np.ceil(y2)) + 1, height)
    points = None
    if right > left and bottom > top:
        points = cv2.findNonZero(
            np.ascontiguousarray(mask[top:bottom, left:right], dtype=np.uint8))
    if points is None:
        corners = np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float32)
        return corners
    # A mask pixel (i, j) stands for the point (j + 0.5, i + 0.5), as mmdet
    # pastes masks. The rectangle of those centres lies half a pixel inside
    # an axis-aligned object, so it grows by one pixel then; along slanted
    # edges the extreme centres touch the edge and it is kept as it is.
    (cx, cy), (w, h), angle = cv2.minAreaRect(points)
    grow = 1. if angle % 90 == 0 else 0.
    corners = cv2.boxPoints(
        ((cx + left + 0.5, cy + top + 0.5), (w + grow, h + grow), angle))
    return corners.reshape(-1).astype(np.float32)


def merge_detections(boxes: np.ndarray,
                     scores: np.ndarray,
                     labels: np.ndarray,
                     iou_thr: float = DEVKIT_MERGE_IOU,
                     polygons: Optional[np.ndarray] = None) -> np.ndarray:
    """Indices kept by class-wise NMS over detections of one full image.

    Args:
        boxes (np.ndarray): ``(N, 4)`` horizontal boxes in image pixels.
        scores (np.ndarray): ``(N, )`` confidences.
        labels (np.ndarray): ``(N, )`` class indices.
        iou_thr (float): Overlap above which the lower-scored detection of
            the same class is removed. Defaults to 0.3 (DOTA devkit).
        polygons (np.ndarray, optional): ``(N, 8)`` oriented boxes; when
            given, NMS compares these (exact polygon IoU, as the devkit's
            ``py_cpu_nms_poly``) instead of ``boxes``.

    Returns:
        np.ndarray: Kept indices, highest score first.
    """
    if len(scores) == 0:
        return np.zeros(0, np.int64)
    if polygons is not None:
        return _polygon_nms(
            np.asarray(polygons, np.float64), scores, labels, iou_thr)
    keep = batched_nms(
        torch.as_tensor(boxes, dtype=torch.float32),
        torch.as_tensor(scores, dtype=torch.float32),
        torch.as_tensor(labels, dtype=torch.int64), iou_thr)
    return keep.numpy().astype(np.int64)


def _polygon_nms(polygons: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                 iou_thr: float) -> np.ndarray:
    """Greedy class-wise NMS with exact polygon IoU.

    Each kept detection is compared only with the remaining ones of its
    class (``polygon_overlaps`` skips those whose enclosing boxes do not
    meet), so an image with thousands of detections merges in well under a
    second, where a dense rotated-IoU matrix would take seconds.
    """
    labels = np.asarray(labels)
    order = np.argsort(-np.asarray(scores), kind='stable')
    shapes = _to_shapely(polygons)
    alive = np.ones(len(order), bool)
    keep = []
    for rank, index in enumerate(order):
        if not alive[rank]:
            continue
        keep.append(index)
        rest = rank + 1 + np.flatnonzero(
            alive[rank + 1:]
            & (labels[order[rank + 1:]] == labels[index]))
        if len(rest) == 0:
            continue
        others = order[rest]
        overlaps = polygon_overlaps(polygons[index], polygons[others],
                                    shapes[others])
        alive[rest[overlaps > iou_thr]] = False
    return np.asarray(keep, np.int64)


def hbb_overlaps(box: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with ``gt_boxes``, in the devkit's ``+1`` convention.

    ``dota_evaluation_task2.py`` (like the VOC devkit it comes from) counts
    pixels inclusively: a box from x=10 to x=20 is 11 pixels wide.
    """
    ix1 = np.maximum(gt_boxes[:, 0], box[0])
    iy1 = np.maximum(gt_boxes[:, 1], box[1])
    ix2 = np.minimum(gt_boxes[:, 2], box[2])
    iy2 = np.minimum(gt_boxes[:, 3], box[3])
    inter = np.maximum(ix2 - ix1 + 1., 0.) * np.maximum(iy2 - iy1 + 1., 0.)
    area = (box[2] - box[0] + 1.) * (box[3] - box[1] + 1.)
    gt_area = (gt_boxes[:, 2] - gt_boxes[:, 0] + 1.) * (
        gt_boxes[:, 3] - gt_boxes[:, 1] + 1.)
    return inter / (area + gt_area - inter)


def _to_shapely(polygons: np.ndarray) -> np.ndarray:
    """``(N, 8)`` corner arrays to valid shapely polygons."""
    shapes = shapely.polygons(
        np.asarray(polygons, np.float64).reshape(-1, 4, 2))
    invalid = ~shapely.is_valid(shapes)
    if invalid.any():
        # A self-crossing label ("bow tie") would get a wrong area.
        shapes[invalid] = shapely.make_valid(shapes[invalid])
    return shapes


def polygon_overlaps(polygon: np.ndarray,
                     gt_polygons: np.ndarray,
                     gt_shapes: Optional[np.ndarray] = None) -> np.ndarray:
    """Exact IoU of one quadrilateral with ``gt_polygons``.

    Args:
        polygon (np.ndarray): ``(8, )`` corners.
        gt_polygons (np.ndarray): ``(M, 8)`` corners.
        gt_shapes (np.ndarray, optional): The same as shapely polygons, to
            reuse across calls.

    Returns:
        np.ndarray: ``(M, )`` IoUs.
    """
    if gt_shapes is None:
        gt_shapes = _to_shapely(gt_polygons)
    overlaps = np.zeros(len(gt_polygons))
    # Only polygons whose enclosing boxes meet can overlap (the devkit's
    # task1 evaluation filters the same way before its polygon IoU).
    xs, ys = polygon[0::2], polygon[1::2]
    gx, gy = gt_polygons[:, 0::2], gt_polygons[:, 1::2]
    candidates = np.flatnonzero((gx.min(1) < xs.max()) & (gx.max(1) > xs.min())
                                & (gy.min(1) < ys.max())
                                & (gy.max(1) > ys.min()))
    if len(candidates) == 0:
        return overlaps
    shape = _to_shapely(polygon[None])[0]
    inter = shapely.area(shapely.intersection(shape, gt_shapes[candidates]))
    union = shape.area + shapely.area(gt_shapes[candidates]) - inter
    overlaps[candidates] = np.where(union > 0,
                                    inter / np.maximum(union, 1e-12), 0.)
    return overlaps


# ------------------------------------------------------------ VOC07 AP --
def voc07_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2007 11-point average precision.

    The mean over t = 0, 0.1, ..., 1 of the best precision at recall >= t
    (0 where the recall never reaches t). The thresholds come from
    ``np.arange(0., 1.1, 0.1)`` exactly as in the DOTA devkit, so the float
    rounding of 0.3, 0.6 and 0.7 matches the official numbers too.
    """
    ap = 0.
    for threshold in np.arange(0., 1.1, 0.1):
        reached = recall >= threshold
        ap += (precision[reached].max() if reached.any() else 0.) / 11.
    return float(ap)


def evaluate_class(detections: Dict[str, Tuple[np.ndarray, np.ndarray]],
                   ground_truth: Dict[str, Tuple[np.ndarray, np.ndarray]],
                   task: str,
                   iou_thr: float = 0.5) -> Dict[str, float]:
    """Score the detections of one class as ``voc_eval`` of the devkit.

    Detections are visited by decreasing score; each one matches the ground
    truth object it overlaps most. Above ``iou_thr`` it is a true positive if
    that object is not yet matched, a false positive if it is; matching a
    difficult object counts as neither. Below, it is a false positive.

    Args:
        detections (dict): Image name -> ``(geometry (N, 4 or 8), scores
            (N, ))``.
        ground_truth (dict): Image name -> ``(geometry (M, 4 or 8),
            difficult (M, ) bool)``; every image of ``detections`` with
            objects of this class must be present.
        task (str): ``'task2'`` (boxes, ``+1`` IoU) or ``'task1'``
            (polygons, exact IoU).
        iou_thr (float): Minimum IoU of a true positive (strictly above).
            Defaults to 0.5.

    Returns:
        dict: ``ap`` (nan without non-difficult objects), ``recall`` (final),
        ``num_gts`` (non-difficult objects), ``num_dets``.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {TASKS}, got {task!r}')
    num_gts = int(
        sum((~difficult).sum() for _, difficult in ground_truth.values()))
    images, geometries, scores = [], [], []
    for image, (geometry, image_scores) in detections.items():
        images += [image] * len(image_scores)
        geometries.append(geometry)
        scores.append(image_scores)
    num_dets = len(images)
    if num_gts == 0:
        return dict(
            ap=float('nan'), recall=float('nan'), num_gts=0, num_dets=num_dets)
    if num_dets == 0:
        return dict(ap=0., recall=0., num_gts=num_gts, num_dets=0)
    geometry = np.concatenate(geometries)
    # Stable order: equal scores keep their input order on every platform.
    order = np.argsort(-np.concatenate(scores), kind='stable')
    matched = {
        image: np.zeros(len(gt[0]), bool)
        for image, gt in ground_truth.items()
    }
    shapes = {}
    true_pos = np.zeros(num_dets)
    false_pos = np.zeros(num_dets)
    for rank, index in enumerate(order):
        image = images[index]
        gt_geometry, difficult = ground_truth.get(image, (np.zeros(
            (0, geometry.shape[1])), np.zeros(0, bool)))
        if len(gt_geometry) == 0:
            false_pos[rank] = 1
            continue
        if task == 'task2':
            overlaps = hbb_overlaps(geometry[index], gt_geometry)
        else:
            if image not in shapes:
                shapes[image] = _to_shapely(gt_geometry)
            overlaps = polygon_overlaps(geometry[index], gt_geometry,
                                        shapes[image])
        best = int(np.argmax(overlaps))
        if overlaps[best] > iou_thr:
            if difficult[best]:
                continue
            if matched[image][best]:
                false_pos[rank] = 1
            else:
                true_pos[rank] = 1
                matched[image][best] = True
        else:
            false_pos[rank] = 1
    true_pos, false_pos = np.cumsum(true_pos), np.cumsum(false_pos)
    recall = true_pos / num_gts
    precision = true_pos / np.maximum(true_pos + false_pos,
                                      np.finfo(np.float64).eps)
    return dict(
        ap=voc07_ap(recall, precision),
        recall=float(recall[-1]),
        num_gts=num_gts,
        num_dets=num_dets)


# ---------------------------------------------------------------- metric --
def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


@register_module(METRICS)
class DOTAMetric(BaseMetric):
    """DOTA Task1/Task2 mAP on merged full images, or submission files.

    See the module docstring for the protocol. Use it as the evaluator of a
    DOTA patch dataset whose image names follow the splitter's convention::

        val_evaluator = dict(
            type='sparse_backbones.DOTAMetric',
            ann_dir='data/DOTA/val/labelTxt/')
        # test split, for the evaluation server:
        test_evaluator = dict(
            type='sparse_backbones.DOTAMetric',
            format_only=True,
            outfile_prefix='work_dirs/submission')

    Only images that have at least one evaluated patch are scored, so a run
    over part of a split scores that part.

    Args:
        ann_dir (str, optional): Folder of the original full-image label
            files (``P0000.txt``, e.g. ``data/DOTA/val/labelTxt/``). Needed
            unless ``format_only``.
        tasks (Sequence[str]): Any of ``'task1'`` (oriented boxes from the
            predicted masks) and ``'task2'`` (horizontal boxes).
            Task1 is skipped with a warning when the model predicts no
            masks. Defaults to both.
        iou_thr (float): IoU of a true positive. Defaults to 0.5.
        merge_iou_thr (float): IoU of the class-wise NMS that merges the
            patch detections of an image. Defaults to 0.3 (DOTA devkit).
        format_only (bool): Write the submission files and return no
            metrics. Defaults to False.
        outfile_prefix (str, optional): Folder of the submission files.
            Required with ``format_only``; otherwise, if given, the merged
            val detections are written there in the same format.
        classwise (bool): Also return the AP of every class (the per-class
            table is logged either way). Defaults to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'dota'.
    """

    default_prefix: Optional[str] = 'dota'

    def __init__(self,
                 ann_dir: Optional[str] = None,
                 tasks: Sequence[str] = TASKS,
                 iou_thr: float = 0.5,
                 merge_iou_thr: float = DEVKIT_MERGE_IOU,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 classwise: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        tasks = (tasks, ) if isinstance(tasks, str) else tuple(tasks)
        unknown = [task for task in tasks if task not in TASKS]
        if unknown or not tasks:
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, '
                             f'got {tasks}')
        if format_only and not outfile_prefix:
            raise ValueError(
                'DOTAMetric(format_only=True) needs outfile_prefix, the '
                'folder for the Task1_<class>.txt/Task2_<class>.txt files '
                '(tools/test.py --format-only --out-dir DIR sets it).')
        if not format_only and not ann_dir:
            raise ValueError(
                'DOTAMetric needs ann_dir, the folder of the original '
                'full-image label files (e.g. data/DOTA/val/labelTxt/), '
                'to score merged detections; for the test split use '
                'format_only=True.')
        if not format_only and not osp.isdir(ann_dir):
            # Checked here, when the runner builds the evaluator, not after
            # hours of inference.
            raise FileNotFoundError(
                f'DOTAMetric ann_dir not found: {ann_dir!r} (relative to '
                f'{os.getcwd()}). It must be the folder of the original '
                'full-image label files of the evaluated split, e.g. '
                'data/DOTA/val/labelTxt/.')
        self.ann_dir = ann_dir
        self.tasks = tasks
        self.iou_thr = iou_thr
        self.merge_iou_thr = merge_iou_thr
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.classwise = classwise

    # ------------------------------------------------------------ process --
    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Shift each patch's detections into its full image and keep them.

        Args:
            data_batch (dict): Unused.
            data_samples (Sequence[dict]): mmdet predictions with
                ``img_path`` or ``img_id`` and ``pred_instances``
                (``bboxes``, ``scores``, ``labels``, optional ``masks``).
        """
        for sample in data_samples:
            name = sample.get('img_path') or str(sample['img_id'])
            patch = parse_dota_patch_name(name)
            pred = sample['pred_instances']
            boxes = _numpy(pred['bboxes']).astype(np.float32).reshape(-1, 4)
            polygons = None
            masks = pred.get('masks', None)
            if masks is not None and 'task1' in self.tasks:
                masks = _numpy(masks)
                polygons = np.zeros((len(boxes), 8), np.float32)
                for i, (mask, box) in enumerate(zip(masks, boxes)):
                    polygons[i] = mask_to_polygon(mask, box)
            offset = np.array([patch.x, patch.y], np.float32)
            boxes = (boxes + np.tile(offset, 2)) / patch.rate
            if polygons is not None:
                polygons = (polygons + np.tile(offset, 4)) / patch.rate
            self.results.append(
                dict(
                    image=patch.image,
                    boxes=boxes,
                    polygons=polygons,
                    scores=_numpy(pred['scores']).astype(np.float32),
                    labels=_numpy(pred['labels']).astype(np.int64)))

    # ------------------------------------------------------------ compute --
    def _merge(self, results: List[dict]) -> Dict[str, dict]:
        """Per image: concatenate the patches and apply the merge NMS."""
        by_image: Dict[str, List[dict]] = defaultdict(list)
        for result in results:
            by_image[result['image']].append(result)
        with_masks = all(r['polygons'] is not None for r in results)
        merged = {}
        for image, parts in sorted(by_image.items()):
            boxes = np.concatenate([p['boxes'] for p in parts])
            scores = np.concatenate([p['scores'] for p in parts])
            labels = np.concatenate([p['labels'] for p in parts])
            entry = {}
            if 'task2' in self.tasks:
                keep = merge_detections(boxes, scores, labels,
                                        self.merge_iou_thr)
                entry['task2'] = (boxes[keep], scores[keep], labels[keep])
            if 'task1' in self.tasks and with_masks:
                polygons = np.concatenate([p['polygons'] for p in parts])
                keep = merge_detections(boxes, scores, labels,
                                        self.merge_iou_thr, polygons)
                entry['task1'] = (polygons[keep], scores[keep], labels[keep])
            merged[image] = entry
        return merged

    def write_submission(self, merged: Dict[str, dict],
                         out_dir: str) -> List[str]:
        """Write ``Task{1,2}_<class>.txt`` for every class, empty or not.

        Args:
            merged (dict): Image -> task -> ``(geometry, scores, labels)``.
            out_dir (str): Output folder, created if missing.

        Returns:
            list[str]: The written files.
        """
        classes = self.dataset_meta['classes']
        os.makedirs(out_dir, exist_ok=True)
        written = []
        for task in self.tasks:
            if not any(task in entry for entry in merged.values()):
                continue
            lines: List[List[str]] = [[] for _ in classes]
            for image, entry in merged.items():
                geometry, scores, labels = entry[task]
                for coords, score, label in zip(geometry, scores, labels):
                    values = ' '.join(f'{v:.1f}' for v in coords)
                    lines[label].append(f'{image} {score:.6f} {values}\n')
            for name, class_lines in zip(classes, lines):
                path = osp.join(out_dir, f'Task{task[-1]}_{name}.txt')
                with open(path, 'w') as f:
                    f.writelines(class_lines)
                written.append(path)
        return written

    def _load_ground_truth(self, images: Sequence[str]) -> dict:
        """Read ``ann_dir/<image>.txt``: polygons, labels, difficult flags."""
        classes = self.dataset_meta['classes']
        missing = [
            image for image in images
            if not osp.isfile(osp.join(self.ann_dir, image + '.txt'))
        ]
        if missing:
            raise FileNotFoundError(
                summarise(
                    f'DOTAMetric: {len(missing)} evaluated image(s) have no '
                    f'label file in {self.ann_dir!r} (is ann_dir the label '
                    'folder of the same split?):',
                    [image + '.txt' for image in missing]))
        ground_truth, problems = {}, []
        for image in images:
            parsed = parse_dota_label_file(
                osp.join(self.ann_dir, image + '.txt'), classes)
            problems += [str(p) for p in parsed.problems]
            polygons = np.array([o.polygon for o in parsed.objects],
                                np.float64).reshape(-1, 8)
            ground_truth[image] = dict(
                polygons=polygons,
                boxes=np.concatenate([
                    polygons[:, 0::2].min(1, keepdims=True),
                    polygons[:, 1::2].min(1, keepdims=True),
                    polygons[:, 0::2].max(1, keepdims=True),
                    polygons[:, 1::2].max(1, keepdims=True)
                ],
                                     axis=1),
                labels=np.array(
                    [classes.index(o.class_name) for o in parsed.objects],
                    np.int64),
                difficult=np.array([o.difficult > 0 for o in parsed.objects],
                                   bool))
        if problems:
            warnings.warn(
                summarise(
                    f'DOTAMetric: skipped {len(problems)} unreadable line(s) '
                    f'of the labels in {self.ann_dir!r}:', problems))
        return ground_truth

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Merge per image, then score (or write the submission files).

        Args:
            results (list): What :meth:`process` collected on all ranks.

        Returns:
            dict: ``task1_mAP``/``task2_mAP`` (in [0, 1]; classes without
            non-difficult objects left out) and with ``classwise`` the AP of
            each class (``task2_AP_<class>``, nan without objects); empty
            with ``format_only``.
        """
        logger = MMLogger.get_current_instance()
        if 'task1' in self.tasks and any(r['polygons'] is None
                                         for r in results):
            warnings.warn('DOTAMetric: the predictions have no masks, so '
                          'Task1 (oriented boxes) is skipped.')
        merged = self._merge(results)
        if self.outfile_prefix:
            written = self.write_submission(merged, self.outfile_prefix)
            logger.info(f'DOTA submission files ({len(written)}) written to '
                        f'{osp.abspath(self.outfile_prefix)}')
        if self.format_only:
            return OrderedDict()

        classes = self.dataset_meta['classes']
        ground_truth = self._load_ground_truth(sorted(merged))
        metrics: Dict[str, float] = OrderedDict()
        for task in self.tasks:
            if not any(task in entry for entry in merged.values()):
                continue
            gt_key = 'boxes' if task == 'task2' else 'polygons'
            rows = [['class', 'gts', 'dets', 'recall', 'ap']]
            aps = []
            for label, name in enumerate(classes):
                detections = {}
                for image, entry in merged.items():
                    geometry, scores, labels = entry[task]
                    selected = labels == label
                    detections[image] = (geometry[selected].astype(np.float64),
                                         scores[selected])
                gts = {
                    image: (gt[gt_key][gt['labels'] == label],
                            gt['difficult'][gt['labels'] == label])
                    for image, gt in ground_truth.items()
                }
                result = evaluate_class(detections, gts, task, self.iou_thr)
                if self.classwise:
                    metrics[f'{task}_AP_{name}'] = result['ap']
                if not np.isnan(result['ap']):
                    aps.append(result['ap'])
                rows.append([
                    name, result['num_gts'], result['num_dets'],
                    f"{result['recall']:.3f}", f"{result['ap']:.3f}"
                ])
            mean_ap = float(np.mean(aps)) if aps else float('nan')
            rows.append(['mAP', '', '', '', f'{mean_ap:.3f}'])
            table = AsciiTable(rows)
            table.inner_footing_row_border = True
            logger.info(f'DOTA {task} ({"HBB" if task == "task2" else "OBB"}'
                        f', VOC07 11-point, IoU {self.iou_thr}) on '
                        f'{len(merged)} full images:\n{table.table}')
            metrics[f'{task}_mAP'] = mean_ap
        return metrics
