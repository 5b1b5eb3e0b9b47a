# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Oriented DOTA evaluation with mmrotate's parts, on known answers.

- mmrotate's ``DOTADataset`` reads the patches of our splitter unchanged;
- its ``DOTAMetric`` gives mAP 1 for perfect rotated predictions, and for
  predictions turned by 90 degrees about their centres the AP computed by
  hand below (IoU of a w x h rectangle with itself turned: h / (2w - h));
- its patch merging (``merge_patches``) gives back each object of a full
  image once, in full-image coordinates, from overlapping patches.
"""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('mmrotate', reason='oriented detection needs mmrotate')

from mmdet.structures import DetDataSample  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402
from mmrotate.evaluation import DOTAMetric  # noqa: E402
from mmrotate.structures.bbox import RotatedBoxes, qbox2rbox  # noqa: E402

from sparse_backbones.datasets import DOTA_V1_CLASSES  # noqa: E402

from tests import load_tool  # noqa: E402

split_tool = load_tool('dataset_converters/dota.py')


def sample(img_id, gt_boxes, gt_labels, pred_boxes, scores, pred_labels):
    """A data sample as mmrotate's test loop hands it to the metric."""
    data = DetDataSample(metainfo=dict(img_id=img_id))
    data.gt_instances = InstanceData(
        bboxes=RotatedBoxes(torch.tensor(gt_boxes, dtype=torch.float32)),
        labels=torch.tensor(gt_labels, dtype=torch.int64))
    data.ignored_instances = InstanceData(
        bboxes=RotatedBoxes(torch.zeros(0, 5)),
        labels=torch.zeros(0, dtype=torch.int64))
    data.pred_instances = InstanceData(
        bboxes=torch.tensor(pred_boxes, dtype=torch.float32).reshape(-1, 5),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(pred_labels, dtype=torch.int64))
    return data.to_dict()


def metric(**kwargs) -> DOTAMetric:
    dota = DOTAMetric(metric='mAP', iou_thrs=0.5, **kwargs)
    dota.dataset_meta = dict(classes=DOTA_V1_CLASSES)
    return dota


def voc07_ap_by_hand(true_positive, num_gts):
    """11-point VOC07 AP of detections sorted by score."""
    hits = np.cumsum(true_positive)
    recall = hits / num_gts
    precision = hits / np.arange(1, len(true_positive) + 1)
    return sum(
        precision[recall >= t].max() if (recall >= t).any() else 0.
        for t in np.linspace(0, 1, 11)) / 11


# (cx, cy, w, h, angle): two near-square objects (w = 1.2 h: turned by 90
# degrees they keep IoU 1 / 1.4 = 0.71) and two long ones (w = 3 h: IoU 0.2).
OBJECTS = [[100., 100., 60., 50., 0.3], [300., 120., 90., 30., -0.4],
           [200., 300., 36., 30., 1.0], [420., 380., 120., 40., 0.1]]
TURNED_SCORES = [0.9, 0.8, 0.7, 0.6]


def test_perfect_rotated_predictions_give_map_1():
    dota = metric()
    dota.process({}, [
        sample('P0001', OBJECTS, [0] * 4, OBJECTS, [0.9] * 4, [0] * 4),
        sample('P0002', OBJECTS[:2], [5, 6], OBJECTS[:2], [0.8, 0.7], [5, 6])
    ])
    result = dota.evaluate(2)
    assert result['dota/mAP'] == pytest.approx(1.0)


def test_predictions_turned_90_degrees_give_the_hand_computed_ap():
    turned = [[cx, cy, w, h, a + np.pi / 2] for cx, cy, w, h, a in OBJECTS]
    # IoU with its own object: h / (2w - h), a hit at IoU >= 0.5.
    ious = [h / (2 * w - h) for _, _, w, h, _ in OBJECTS]
    assert [iou >= 0.5 for iou in ious] == [True, False, True, False]
    expected = voc07_ap_by_hand(np.array(ious) >= 0.5, len(OBJECTS))
    assert expected == pytest.approx(5 / 11)  # recall 1/2 at precision 2/3
    dota = metric()
    dota.process({}, [
        sample('P0001', OBJECTS, [0] * 4, turned, TURNED_SCORES, [0] * 4)
    ])
    assert dota.evaluate(1)['dota/mAP'] == pytest.approx(expected, abs=1e-3)


def read_task1(folder):
    """{class: [(image, score, polygon)]} from the Task1 submission files."""
    found = {}
    for path in glob.glob(osp.join(folder, 'Task1_*.txt')):
        name = osp.basename(path)[len('Task1_'):-len('.txt')]
        with open(path) as f:
            rows = [line.split() for line in f if line.strip()]
        found[name] = [(row[0], float(row[1]),
                        np.array(row[2:], np.float64).reshape(4, 2))
                       for row in rows]
    return found


def test_split_patches_read_by_mmrotate_and_merged_back_once(tmp_path):
    """A 1400 px image, split by our tool into 1024 px windows overlapping
    by 200 (starts 0 and 376); objects in the overlap land in two or four
    patches; mmrotate reads the patches and its merge returns each object
    once, at its full-image position."""
    from mmrotate.datasets import DOTADataset
    objects = {  # polygon corners (clockwise), class
        'centre': ([650, 650, 750, 650, 750, 700, 650, 700], 'plane'),
        'left': ([100, 800, 160, 800, 160, 830, 100, 830], 'ship'),
        'corner': ([1300, 1300, 1360, 1300, 1360, 1340, 1300, 1340],
                   'harbor'),
    }
    source = tmp_path / 'source'
    os.makedirs(source / 'images')
    os.makedirs(source / 'labelTxt')
    cv2.imwrite(
        str(source / 'images' / 'P0007.png'),
        np.random.default_rng(0).integers(0, 255, (1400, 1400, 3),
                                          dtype=np.uint8))
    (source / 'labelTxt' / 'P0007.txt').write_text(''.join(
        ' '.join(map(str, poly)) + f' {name} 0\n'
        for poly, name in objects.values()))
    out = tmp_path / 'split'
    assert split_tool.main(
        [str(source), '--out-dir', str(out), '--nproc', '1']) == 0

    dataset = DOTADataset(
        data_root=str(out),
        ann_file='labelTxt/',
        data_prefix=dict(img_path='images/'),
        test_mode=True,
        pipeline=[])
    assert len(dataset) == 4
    infos = [dataset.get_data_info(i) for i in range(4)]
    assert all(osp.exists(info['img_path']) for info in infos)
    counts = sorted(len(info['instances']) for info in infos)
    # centre in all four patches, left in the two at x = 0, corner in one
    assert counts == [1, 2, 2, 2]
    labels = {DOTA_V1_CLASSES[inst['bbox_label']]
              for info in infos for inst in info['instances']}
    assert labels == {'plane', 'ship', 'harbor'}

    # Predictions: each patch's own objects, as a detector would find them.
    samples = []
    for info in infos:
        qboxes = torch.tensor([inst['bbox'] for inst in info['instances']],
                              dtype=torch.float32)
        rboxes = qbox2rbox(qboxes)
        count = len(qboxes)
        samples.append(
            sample(info['img_id'], rboxes.tolist(),
                   [inst['bbox_label'] for inst in info['instances']],
                   rboxes.tolist(), [0.9] * count,
                   [inst['bbox_label'] for inst in info['instances']]))
    dota = metric(merge_patches=True, outfile_prefix=str(tmp_path / 'task1'))
    dota.process({}, samples)
    dota.evaluate(len(samples))
    assert glob.glob(str(tmp_path / 'task1' / '*.zip'))
    found = read_task1(str(tmp_path / 'task1'))
    detections = [(cls, row) for cls, rows in found.items() for row in rows]
    assert len(detections) == len(objects)
    for poly, name in objects.values():
        matches = [row for cls, row in detections if cls == name]
        assert len(matches) == 1, name
        image, score, corners = matches[0]
        assert image == 'P0007' and score == pytest.approx(0.9)
        expected = np.array(poly, np.float64).reshape(4, 2)
        np.testing.assert_allclose(
            corners.mean(0), expected.mean(0), atol=0.5)
        np.testing.assert_allclose(
            cv2.contourArea(corners.astype(np.float32)),
            cv2.contourArea(expected.astype(np.float32)),
            rtol=0.02)
