# Copyright (c) sparse_backbones contributors. All rights reserved.
"""DOTA full-image evaluation: VOC07 AP, IoUs, patch merging, submission."""
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import shapely
import torch

from sparse_backbones.datasets import DOTA_V1_CLASSES
from sparse_backbones.evaluation.dota_metric import (DOTAMetric,
                                                     evaluate_class,
                                                     hbb_overlaps,
                                                     mask_to_polygon,
                                                     merge_detections,
                                                     polygon_overlaps,
                                                     voc07_ap)

from tests import REPO, load_tool

DET_CONFIG = REPO / 'configs/det/lemevit_maskrcnn.py'
PLANE = DOTA_V1_CLASSES.index('plane')
SHIP = DOTA_V1_CLASSES.index('ship')


def square(x, y, side):
    return np.array([x, y, x + side, y, x + side, y + side, x, y + side],
                    np.float64)


# ------------------------------------------------------------------ IoUs --
def test_hbb_overlaps_uses_the_devkit_plus_one_convention():
    gt = np.array([[5., 0., 14., 9.], [0., 0., 9., 9.], [20, 20, 30, 30]])
    # 10x10-pixel boxes sharing 5 columns: 50 / (100 + 100 - 50).
    np.testing.assert_allclose(
        hbb_overlaps(np.array([0., 0., 9., 9.]), gt), [1 / 3, 1., 0.])


def test_polygon_overlaps_known_shapes():
    base = square(0, 0, 2)
    diamond = np.array([1., 0., 2., 1., 1., 2., 0., 1.])  # area 2, inside
    gts = np.stack([base, square(1, 0, 2), diamond, square(5, 5, 1)])
    np.testing.assert_allclose(
        polygon_overlaps(base, gts), [1., 1 / 3, 0.5, 0.], atol=1e-12)
    # A rotated rectangle against itself with its corners in another order.
    rect = cv2.boxPoints(((50., 40.), (30., 10.), 33.)).reshape(-1)
    shifted = np.roll(rect, 2)
    assert polygon_overlaps(rect, shifted[None])[0] == pytest.approx(1.)
    # A self-crossing ("bow tie") label still gets a finite IoU.
    bow_tie = np.array([0., 0., 2., 2., 2., 0., 0., 2.])
    assert 0 < polygon_overlaps(base, bow_tie[None])[0] < 1


def random_rectangles(count, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([
        cv2.boxPoints(
            ((float(x), float(y)), (float(w), float(h)), float(a))).reshape(-1)
        for x, y, w, h, a in zip(
            rng.uniform(0, 120, count), rng.uniform(0, 120, count),
            rng.uniform(5, 40, count), rng.uniform(5, 40, count),
            rng.uniform(-90, 90, count))
    ]).astype(np.float64)


def test_polygon_overlaps_equals_plain_shapely():
    """The enclosing-box shortcut skips only pairs that cannot overlap."""
    polygons = random_rectangles(60)
    shapes = [shapely.Polygon(p.reshape(4, 2)) for p in polygons]
    for i in range(0, 60, 7):
        expected = [
            shapes[i].intersection(s).area / shapes[i].union(s).area
            for s in shapes
        ]
        np.testing.assert_allclose(
            polygon_overlaps(polygons[i], polygons), expected, atol=1e-9)


def test_polygon_merge_equals_mmcv_rotated_nms():
    """The greedy polygon NMS against mmcv's rotated NMS, class by
    class, on rectangles (where both IoUs are exact)."""
    from mmcv.ops import nms_rotated
    polygons = random_rectangles(200, seed=1)
    rng = np.random.default_rng(2)
    scores = rng.random(200).astype(np.float32)
    labels = rng.integers(0, 3, 200)
    keep = merge_detections(None, scores, labels, 0.3, polygons)
    expected = []
    for label in range(3):
        index = np.flatnonzero(labels == label)
        rotated = []
        for polygon in polygons[index]:
            (cx, cy), (w, h), angle = cv2.minAreaRect(
                polygon.reshape(4, 2).astype(np.float32))
            rotated.append([cx, cy, w, h, np.deg2rad(angle)])
        _, kept = nms_rotated(
            torch.tensor(rotated, dtype=torch.float32),
            torch.from_numpy(scores[index]),
            0.3,
            clockwise=True)
        expected += index[kept.numpy()].tolist()
    assert 0 < len(keep) < 200
    assert sorted(keep.tolist()) == sorted(expected)


# ------------------------------------------------------------------- AP --
def test_voc07_ap_eleven_points():
    # recall reaches 0.5 at precision 1 and 1.0 at precision 2/3:
    # 6 thresholds (0 ... 0.5) give 1, 5 thresholds (0.6 ... 1) give 2/3.
    recall = np.array([0.5, 0.5, 1.0])
    precision = np.array([1., 0.5, 2 / 3])
    assert voc07_ap(recall, precision) == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert voc07_ap(np.array([0.2]), np.array([1.])) == pytest.approx(3 / 11)


def test_evaluate_class_by_hand_task2():
    gts = {
        'A': (np.array([[0., 0., 9., 9.], [100., 100., 109.,
                                           109.]]), np.array([False, False])),
        'B': (np.array([[0., 0., 9., 9.]]), np.array([True])),
    }
    detections = {
        # ranked 1 (TP), 4 (duplicate of a matched object: FP)
        'A': (np.array([[0., 0., 9., 9.], [0., 0., 9.,
                                           10.]]), np.array([0.9, 0.6])),
        # ranked 2: matches a difficult object, neither TP nor FP;
        # ranked 3: misses everything, FP
        'B': (np.array([[0., 0., 9., 9.], [50., 50., 60.,
                                           60.]]), np.array([0.8, 0.7])),
    }
    result = evaluate_class(detections, gts, 'task2')
    # Counted ranks: TP, FP, FP -> recall 0.5 throughout, precision
    # 1, 0.5, 1/3: thresholds 0 ... 0.5 give 1, the rest 0.
    assert result['num_gts'] == 2 and result['num_dets'] == 4
    assert result['recall'] == pytest.approx(0.5)
    assert result['ap'] == pytest.approx(6 / 11)
    # Finding the second object last lifts recall to 1 at precision 2/4.
    detections['A'] = (np.array([[0., 0., 9., 9.], [0., 0., 9., 10.],
                                 [100., 100., 109.,
                                  109.]]), np.array([0.9, 0.6, 0.5]))
    result = evaluate_class(detections, gts, 'task2')
    assert result['ap'] == pytest.approx((6 + 5 * 0.5) / 11)


def test_evaluate_class_task1_uses_polygons():
    diamond = np.array([5., 0., 10., 5., 5., 10., 0., 5.])
    gts = {'A': (diamond[None], np.array([False]))}
    # The diamond's enclosing box overlaps it by IoU 0.5 (not above):
    # a horizontal box is not a hit in Task1, the diamond itself is.
    box_corners = square(0, 0, 10)
    miss = evaluate_class({'A': (box_corners[None], np.array([1.]))}, gts,
                          'task1')
    hit = evaluate_class({'A': (diamond[None], np.array([1.]))}, gts, 'task1')
    assert miss['ap'] == 0 and hit['ap'] == pytest.approx(1.)
    none = evaluate_class({'A': (np.zeros(
        (0, 8)), np.zeros(0))}, {'A': (np.zeros((0, 8)), np.zeros(0, bool))},
                          'task1')
    assert np.isnan(none['ap'])


# ------------------------------------------------------------- geometry --
def test_mask_to_polygon_axis_aligned_and_rotated():
    mask = np.zeros((64, 96), bool)
    mask[10:20, 30:50] = True  # pixels 30..49 x 10..19: area 20 x 10
    polygon = mask_to_polygon(mask, (30, 10, 50, 20))
    xs, ys = polygon[0::2], polygon[1::2]
    np.testing.assert_allclose(
        [xs.min(), ys.min(), xs.max(), ys.max()], [30, 10, 50, 20], atol=1e-4)
    # As mmdet pastes masks: a pixel is set when its centre is inside.
    rect = cv2.boxPoints(((48., 32.), (40., 14.), 30.))
    rows, cols = np.mgrid[0:64, 0:96]
    mask = shapely.contains_xy(shapely.Polygon(rect), cols + 0.5, rows + 0.5)
    xs, ys = rect[:, 0], rect[:, 1]
    polygon = mask_to_polygon(mask, (xs.min(), ys.min(), xs.max(), ys.max()))
    assert polygon_overlaps(
        polygon.astype(np.float64),
        rect.reshape(1, 8).astype(np.float64))[0] > 0.97
    # An empty mask falls back to the corners of its box.
    empty = mask_to_polygon(np.zeros((8, 8), bool), (1, 2, 3, 4))
    np.testing.assert_array_equal(empty, [1, 2, 3, 2, 3, 4, 1, 4])


def test_merge_detections_is_class_wise():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 0, 11, 10], [1, 0, 11, 10], [50, 50, 60, 60]],
        np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    labels = np.array([PLANE, PLANE, SHIP, PLANE])
    # The second plane box overlaps the first (IoU 0.82): removed; the
    # ship box at the same place is another class: kept.
    assert merge_detections(boxes, scores, labels).tolist() == [0, 2, 3]
    polygons = np.stack([square(*b[:2], 10) for b in boxes])
    assert merge_detections(
        boxes, scores, labels, polygons=polygons).tolist() == [0, 2, 3]
    assert merge_detections(boxes[:0], scores[:0], labels[:0]).size == 0


# --------------------------------------------------------------- metric --
def prediction(name, boxes, scores, labels, with_masks=True, size=64):
    """An mmdet-style prediction dict for the patch ``name``."""
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    pred = dict(
        bboxes=boxes,
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.int64))
    if with_masks:
        masks = torch.zeros((len(boxes), size, size), dtype=torch.bool)
        for mask, (x1, y1, x2, y2) in zip(masks, boxes.round().int()):
            mask[y1:y2, x1:x2] = True
        pred['masks'] = masks
    return dict(img_path=f'/data/images/{name}.png', pred_instances=pred)


def make_metric(ann_dir=None, **kwargs):
    metric = DOTAMetric(ann_dir=ann_dir, classwise=True, **kwargs)
    metric.dataset_meta = dict(classes=DOTA_V1_CLASSES)
    return metric


def test_process_shifts_back_by_the_patch_offset_and_rate(tmp_path):
    metric = make_metric(str(tmp_path))
    metric.process({}, [
        prediction('P0007__64__824___16', [[1, 2, 11, 12]], [0.9], [PLANE]),
        prediction('P0007__0.5__64__100___40', [[10, 20, 30, 40]], [0.8],
                   [SHIP]),
    ])
    first, second = metric.results
    assert first['image'] == second['image'] == 'P0007'
    np.testing.assert_allclose(first['boxes'], [[825, 18, 835, 28]])
    # Patches of the half-size image: (patch + offset) / 0.5.
    np.testing.assert_allclose(second['boxes'], [[220, 120, 260, 160]])
    xs, ys = first['polygons'][0, 0::2], first['polygons'][0, 1::2]
    np.testing.assert_allclose(
        [xs.min(), ys.min(), xs.max(), ys.max()], [825, 18, 835, 28])


def test_process_rejects_names_without_offsets(tmp_path):
    metric = make_metric(str(tmp_path))
    with pytest.raises(ValueError, match='P0000__1024__0___0'):
        metric.process({}, [prediction('P0000', [], [], [])])


def write_labels(folder, labels: dict) -> str:
    os.makedirs(folder, exist_ok=True)
    for stem, text in labels.items():
        with open(osp.join(folder, stem + '.txt'), 'w') as f:
            f.write(text)
    return str(folder)


def test_metric_merges_overlapping_patches_of_a_full_image(tmp_path):
    # Full image P0000 (e.g. 100x64) cut into two 64-pixel patches at x=0
    # and x=36: the plane at x 40..60 is in both.
    ann_dir = write_labels(
        tmp_path / 'labelTxt', {
            'P0000':
            'imagesource:GoogleEarth\ngsd:0.1\n'
            '40 10 60 10 60 30 40 30 plane 0\n'
            '80 40 95 40 95 50 80 50 ship 0\n'
            '2 2 8 2 8 8 2 8 ship 1\n',
            'P0001':
            '',
        })
    metric = make_metric(ann_dir)
    metric.process({}, [
        prediction('P0000__64__0___0', [[40, 10, 60, 30], [2, 2, 8, 8]],
                   [0.9, 0.95], [PLANE, SHIP]),
        prediction('P0000__64__36___0', [[4, 10, 24, 30], [44, 40, 59, 50]],
                   [0.8, 0.7], [PLANE, SHIP]),
        prediction('P0001__64__0___0', [], [], []),
    ])
    metrics = metric.evaluate(size=3)
    # Without the merge the plane's copy would be a false positive; the
    # detection of the difficult ship counts for nothing.
    assert metrics['dota/task2_AP_plane'] == pytest.approx(1.)
    assert metrics['dota/task2_AP_ship'] == pytest.approx(1.)
    assert metrics['dota/task1_AP_plane'] == pytest.approx(1.)
    assert metrics['dota/task2_mAP'] == pytest.approx(1.)
    assert metrics['dota/task1_mAP'] == pytest.approx(1.)
    assert np.isnan(metrics['dota/task2_AP_bridge'])  # no object: no AP

    # Without the merge (nothing overlaps by more than IoU 1) the copy of
    # the plane, ranked between the two hits, is a false positive:
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    def plane_ap(merge_iou_thr):
        metric = make_metric(ann_dir, merge_iou_thr=merge_iou_thr)
        metric.process({}, [
            prediction('P0000__64__0___0', [[40, 10, 60, 30]], [0.9], [PLANE]),
            prediction('P0000__64__36___0', [[4, 10, 24, 30], [44, 40, 59, 50]
                                             ], [0.8, 0.7], [PLANE, PLANE]),
        ])
        return metric.evaluate(size=2)['dota/task2_AP_plane']

    ann_dir = write_labels(
        tmp_path / 'planes', {
            'P0000':
            '40 10 60 10 60 30 40 30 plane 0\n'
            '80 40 95 40 95 50 80 50 plane 0\n'
        })
    assert plane_ap(1.0) == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert plane_ap(0.3) == pytest.approx(1.)


def test_metric_errors_name_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match='ann_dir'):
        DOTAMetric()
    with pytest.raises(ValueError, match='outfile_prefix'):
        DOTAMetric(format_only=True)
    with pytest.raises(ValueError, match='tasks'):
        DOTAMetric(ann_dir=str(tmp_path), tasks=('task3', ))
    with pytest.raises(FileNotFoundError, match='val/labelTxt'):
        DOTAMetric(ann_dir=str(tmp_path / 'nowhere'))
    ann_dir = write_labels(tmp_path / 'labelTxt', {'P0000': ''})
    metric = make_metric(ann_dir)
    metric.process({}, [prediction('P0009__64__0___0', [], [], [])])
    with pytest.raises(FileNotFoundError, match=r'P0009\.txt'):
        metric.evaluate(size=1)


def test_metric_without_masks_scores_task2_only(tmp_path):
    ann_dir = write_labels(tmp_path / 'labelTxt',
                           {'P0000': '0 0 10 0 10 10 0 10 plane 0\n'})
    metric = make_metric(ann_dir)
    metric.process({}, [
        prediction(
            'P0000__64__0___0', [[0, 0, 10, 10]], [0.9], [PLANE],
            with_masks=False)
    ])
    with pytest.warns(UserWarning, match='Task1'):
        metrics = metric.evaluate(size=1)
    assert metrics['dota/task2_mAP'] == pytest.approx(1.)
    assert 'dota/task1_mAP' not in metrics
    # By default only the mAPs are returned (the table is logged).
    metric = DOTAMetric(ann_dir=ann_dir, tasks='task2')
    metric.dataset_meta = dict(classes=DOTA_V1_CLASSES)
    metric.process(
        {}, [prediction('P0000__64__0___0', [[0, 0, 10, 10]], [0.9], [PLANE])])
    assert metric.evaluate(size=1) == {'dota/task2_mAP': pytest.approx(1.)}


def test_format_only_writes_the_submission_files(tmp_path):
    out_dir = tmp_path / 'submission'
    metric = make_metric(format_only=True, outfile_prefix=str(out_dir))
    metric.process({}, [
        prediction('P0003__64__0___0', [[40, 10, 60, 30]], [0.9], [PLANE]),
        prediction('P0003__64__36___0', [[4, 10, 24, 30]], [0.8], [PLANE]),
        prediction('P0004__64__10___20', [[0, 0, 10, 10]], [0.5], [SHIP]),
    ])
    assert metric.evaluate(size=3) == {}
    names = sorted(os.listdir(out_dir))
    assert names == sorted(
        [f'Task{t}_{c}.txt' for t in (1, 2) for c in DOTA_V1_CLASSES])
    planes = (out_dir / 'Task2_plane.txt').read_text().splitlines()
    assert planes == ['P0003 0.900000 40.0 10.0 60.0 30.0']  # merged
    (ship, ) = (out_dir / 'Task1_ship.txt').read_text().splitlines()
    image, score, *coords = ship.split()
    assert (image, score) == ('P0004', '0.500000')
    coords = np.array(coords, float)
    np.testing.assert_allclose([
        coords[0::2].min(), coords[1::2].min(), coords[0::2].max(),
        coords[1::2].max()
    ], [10, 20, 20, 30])
    assert (out_dir / 'Task1_bridge.txt').read_text() == ''


def test_metric_is_registered_for_mmdet(tmp_path):
    from mmdet.registry import METRICS
    from mmdet.utils import register_all_modules
    register_all_modules()
    metric = METRICS.build(
        dict(
            type='sparse_backbones.DOTAMetric',
            ann_dir=str(tmp_path),
            tasks='task2'))
    assert isinstance(metric, DOTAMetric) and metric.tasks == ('task2', )


# ------------------------------------------------ tools/test.py --format-only
def test_format_only_switches_to_the_submission_split():
    from mmengine.config import Config
    test_tool = load_tool('test.py', '_dota_metric_test_tool')
    cfg = Config.fromfile(str(DET_CONFIG))
    test_tool.enable_format_only(cfg, 'subm', demo=False)
    dataset = cfg.test_dataloader.dataset
    assert dataset.data_prefix.img_path == 'test/images/'
    assert dataset.ann_file == ''
    assert cfg.test_evaluator == [
        dict(
            type='sparse_backbones.DOTAMetric',
            format_only=True,
            outfile_prefix='subm')
    ]
    # --demo: its val patches stand in for the test split.
    cfg = Config.fromfile(str(DET_CONFIG))
    test_tool.enable_format_only(cfg, 'subm', demo=True)
    assert cfg.test_dataloader.dataset.data_prefix.img_path == 'val/images/'
    # A metric without a format_only mode is a clear error.
    cfg = Config.fromfile(str(REPO / 'configs/cls/lemevit-tiny_8xb64_aid.py'))
    with pytest.raises(RuntimeError, match='no format_only mode'):
        test_tool.enable_format_only(cfg, 'subm', demo=False)
    with pytest.raises(SystemExit):
        test_tool.parse_args(['c', 'k', '--format-only'])


@pytest.fixture(scope='module')
def random_det_checkpoint(tmp_path_factory) -> Path:
    """The det config's Mask R-CNN with random weights, saved once."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmdet')
    model = MODELS.build(Config.fromfile(str(DET_CONFIG)).model)
    path = tmp_path_factory.mktemp('ckpt') / 'random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def run_test_tool(cwd: Path, checkpoint: Path, *args, options=()) -> str:
    """Run tools/test.py on the demo patches (2 val images, score_thr 0)."""
    proc = subprocess.run([
        sys.executable,
        str(REPO / 'tools' / 'test.py'),
        str(DET_CONFIG),
        str(checkpoint), *map(str, args), '--demo', '--work-dir',
        str(cwd / 'work'), '--cfg-options',
        'test_dataloader.dataset.indices=2',
        'model.test_cfg.rcnn.score_thr=0.0', *options
    ],
                          cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=str(REPO)),
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


@pytest.mark.slow  # ~1 min on 2 CPU cores
def test_tools_test_format_only_writes_submission_files(
        tmp_path, random_det_checkpoint):
    """tools/test.py CONFIG CKPT --format-only --out-dir DIR, on the demo
    patches with a randomly initialised Mask R-CNN."""
    out_dir = tmp_path / 'submission'
    run_test_tool(tmp_path, random_det_checkpoint, '--format-only',
                  '--out-dir', out_dir)
    names = sorted(os.listdir(out_dir))
    assert names == sorted(f'Task{t}_{c}.txt' for t in (1, 2)
                           for c in DOTA_V1_CLASSES)
    lines = [
        line.split() for name in names if name.startswith('Task1')
        for line in (out_dir / name).read_text().splitlines()
    ]
    assert lines, 'score_thr=0 must leave detections'
    # Demo patches P0032__256__0___0 ... are whole images P0032 ...
    assert {line[0] for line in lines} <= {'P0032', 'P0033'}
    assert all(len(line) == 10 for line in lines)


@pytest.mark.slow  # ~1.5 min on 2 CPU cores
def test_tools_test_scores_full_images_with_dota_metric(
        tmp_path, random_det_checkpoint):
    """The official val protocol through the runner: the demo patches are
    whole images, so their labels serve as the full-image labels."""
    from sparse_backbones.demo import make_dota_demo
    demo_root = make_dota_demo(str(tmp_path / 'data/demo/dota'))
    full_labels = tmp_path / 'full_labels'
    full_labels.mkdir()
    for path in Path(demo_root, 'val', 'labelTxt').iterdir():
        image = path.name.split('__')[0]
        (full_labels / f'{image}.txt').write_text(path.read_text())
    out = run_test_tool(
        tmp_path,
        random_det_checkpoint,
        options=('test_evaluator._delete_=True',
                 'test_evaluator.type=sparse_backbones.DOTAMetric',
                 f'test_evaluator.ann_dir={full_labels}'))
    metrics = out[out.rindex('======== test metrics'):]
    assert '"dota/task1_mAP"' in metrics and '"dota/task2_mAP"' in metrics
    assert 'DOTA task1 (OBB, VOC07 11-point, IoU 0.5) on 2 full images' \
        in out


@pytest.mark.parametrize('name',
                         ['dota', 'dota_official', 'dota_v15', 'dota_ms'])
def test_dota_dataset_configs(name, tmp_path):
    """Each DOTA dataset config reads its own patches; the official one
    scores merged full images with DOTAMetric."""
    from mmdet.registry import METRICS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / f'configs/_base_/datasets/{name}.py'))
    roots = {
        cfg[key].dataset.data_root
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                    'submission_dataloader')
    }
    expected_root = dict(
        dota_v15='data/split_ss_dota1_5/',
        dota_ms='data/split_ms_dota/').get(name, 'data/split_ss_dota/')
    assert roots == {expected_root}
    dataset_type = cfg.train_dataloader.dataset.type
    assert dataset_type == cfg.submission_dataloader.dataset.type
    assert dataset_type.endswith('DOTAv15Dataset' if name ==
                                 'dota_v15' else '.DOTADataset')
    assert cfg.submission_evaluator.format_only is True
    evaluator = cfg.val_evaluator
    if name == 'dota_official':
        assert evaluator.ann_dir == 'data/DOTA/val/labelTxt/'
        register_all_modules()
        metric = METRICS.build(dict(evaluator, ann_dir=str(tmp_path)))
        assert isinstance(metric, DOTAMetric)
        assert metric.tasks == ('task1', 'task2')
    else:
        assert evaluator.type == 'VOCMetric'
