# Copyright (c) sparse_backbones contributors. All rights reserved.
"""NWPU / UC Merced / Vaihingen / iSAID dataset classes, the ISPRS metric,
the protocol configs in configs/_base_/datasets and their demo mapping."""
import copy
import json
import os
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

from sparse_backbones import demo
from sparse_backbones.datasets import (AID_CLASSES, ISAID_CLASSES,
                                       ISPRS_CLASSES, NWPU_RESISC45_CLASSES,
                                       SCENE_DATASETS, UCMERCED_CLASSES,
                                       aid_split_names, make_scene_split)

from tests import REPO_ROOT

DATASET_CFGS = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets')
FIVE_CLASSES = ISPRS_CLASSES[:5]


def load_cfg(*parts) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', *parts))


def write(path, text: str) -> str:
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


# ------------------------------------------------------------- class lists --
def test_scene_class_lists_are_sorted_folder_names():
    for spec, count in ((SCENE_DATASETS['aid'], 30),
                        (SCENE_DATASETS['nwpu'], 45), (SCENE_DATASETS['ucm'],
                                                       21)):
        assert len(spec.classes) == len(set(spec.classes)) == count
        # Label order = sorted folder order, as every published split.
        assert list(spec.classes) == sorted(spec.classes)
    assert SCENE_DATASETS['aid'].classes == AID_CLASSES
    assert 'storage_tank' in ISAID_CLASSES and len(ISAID_CLASSES) == 15


def test_make_scene_split_never_writes_into_img_root(tmp_path):
    root = tmp_path / 'NWPU-RESISC45'
    for name in NWPU_RESISC45_CLASSES:
        for i in range(10):
            write(root / name / f'{name}_{i:03d}.jpg', 'x')
    out = tmp_path / 'splits'
    train, test = make_scene_split(str(root), str(out), 10, 3, 'nwpu')
    assert (osp.basename(train), osp.basename(test)) == aid_split_names(10, 3)
    assert sorted(os.listdir(root)) == sorted(NWPU_RESISC45_CLASSES)
    with open(train) as f:
        lines = f.read().splitlines()
    assert len(lines) == 45  # one image per class at 10 %
    assert {int(line.split()[1]) for line in lines} == set(range(45))
    with pytest.raises(ValueError, match='not UC Merced classes'):
        make_scene_split(str(root), str(out), 80, 0, 'ucm')
    with pytest.raises(ValueError, match='train_percent'):
        make_scene_split(str(root), str(out), 100, 0, 'nwpu')


# ------------------------------------------------------ scene dataset cls --
@pytest.fixture
def mmpretrain_datasets():
    pytest.importorskip('mmpretrain')
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield DATASETS


@pytest.mark.parametrize('type_name,key,classes', [
    ('NWPURESISC45Dataset', 'nwpu', NWPU_RESISC45_CLASSES),
    ('UCMercedDataset', 'ucm', UCMERCED_CLASSES),
])
def test_scene_dataset_messages(tmp_path, mmpretrain_datasets, type_name, key,
                                classes):
    root = tmp_path / 'data'
    first = f'{classes[0]}/{classes[0]}_1.jpg'
    write(root / 'images' / first, 'x')
    cfg = dict(
        type=f'sparse_backbones.{type_name}',
        data_root=str(root),
        data_prefix='images')
    with pytest.raises(FileNotFoundError) as err:
        mmpretrain_datasets.build(
            dict(cfg, ann_file='splits/train_10_seed2.txt'))
    message = str(err.value)
    assert osp.join(str(root), 'splits', 'train_10_seed2.txt') in message
    assert f'tools/dataset_converters/aid.py {key} ' in message
    assert f'--out-dir {root} --train-percents 10 --seeds 2' in message
    with pytest.raises(FileNotFoundError, match='image folder'):
        mmpretrain_datasets.build(
            dict(cfg, data_prefix='nowhere', ann_file='x.txt'))

    bad = write(root / 'bad.txt', f'{first} 0\n{first} {len(classes)}\n')
    with pytest.raises(
            ValueError, match=r'bad.txt:2: label '
            f'{len(classes)} is outside'):
        mmpretrain_datasets.build(dict(cfg, ann_file=bad))
    good = write(root / 'good.txt', f'{first} {len(classes) - 1}\n')
    dataset = mmpretrain_datasets.build(dict(cfg, ann_file=good))
    assert dataset.metainfo['classes'] == classes
    assert dataset.get_data_info(0)['gt_label'] == len(classes) - 1


# -------------------------------------------------------------- Vaihingen --
def test_vaihingen_dataset_messages(tmp_path):
    pytest.importorskip('mmseg')
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmseg'):
        with pytest.raises(FileNotFoundError) as err:
            DATASETS.build(
                dict(
                    type='sparse_backbones.ISPRSVaihingenDataset',
                    data_root=str(tmp_path / 'vaihingen'),
                    data_prefix=dict(
                        img_path='img_dir/val', seg_map_path='ann_dir/val')))
    message = str(err.value)
    assert 'Vaihingen image folder not found' in message
    assert osp.join(str(tmp_path), 'vaihingen', 'img_dir', 'val') in message
    assert 'dataset_converters/isprs.py vaihingen' in message
    assert 'ground_truth_eroded_COMPLETE.zip' in message


# ------------------------------------------------------------------ iSAID --
def isaid_json(path, categories, annotations=()):
    images = [dict(id=1, file_name='P0000.png', width=64, height=64)]
    write(
        path,
        json.dumps(
            dict(
                images=images,
                annotations=list(annotations),
                categories=categories)))
    return str(path)


@pytest.fixture
def mmdet_datasets():
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield DATASETS


def test_isaid_dataset_labels_follow_the_devkit_ids(tmp_path, mmdet_datasets):
    os.makedirs(tmp_path / 'images')
    # Categories listed with the dummy background first, ids 1..15 after.
    categories = [dict(id=0, name='background')] + [
        dict(id=i + 1, name=n) for i, n in enumerate(ISAID_CLASSES)
    ]
    tank = dict(
        id=1,
        image_id=1,
        category_id=2,
        bbox=[1, 2, 10, 10],
        area=100,
        iscrowd=0,
        segmentation=[[1, 2, 11, 2, 11, 12, 1, 12]])
    isaid_json(tmp_path / 'a.json', categories, [tank])
    cfg = dict(
        type='sparse_backbones.ISAIDDataset',
        data_root=str(tmp_path),
        ann_file='a.json',
        data_prefix=dict(img='images/'),
        test_mode=True)
    dataset = mmdet_datasets.build(cfg)
    assert dataset.metainfo['classes'] == ISAID_CLASSES
    instance, = dataset.get_data_info(0)['instances']
    assert instance['bbox_label'] == 1  # storage_tank, kept (not dropped)
    assert instance['bbox'] == [1, 2, 11, 12]

    # The stock mmdet class would silently lose the storage tank.
    stock = mmdet_datasets.build(dict(cfg, type='iSAIDDataset'))
    assert stock.get_data_info(0)['instances'] == []

    # First-appearance ids (the devkit's own json) are refused.
    shuffled = categories[1:][::-1]
    isaid_json(tmp_path / 'b.json', shuffled)
    with pytest.raises(ValueError, match='in the order'):
        mmdet_datasets.build(dict(cfg, ann_file='b.json'))
    with pytest.raises(FileNotFoundError) as err:
        mmdet_datasets.build(dict(cfg, ann_file='missing.json'))
    assert 'dataset_converters/isaid.py' in str(err.value)


# ----------------------------------------------------------------- metric --
def naive_scores(pred, label, num_classes, ignore_index=255):
    """OA, per-class F1 and IoU by counting pixel pairs one by one."""
    confusion = np.zeros((num_classes, num_classes), np.int64)
    for p, t in zip(pred.ravel().tolist(), label.ravel().tolist()):
        if t != ignore_index:
            confusion[t, p] += 1
    f1, iou = [], []
    for c in range(num_classes):
        tp = confusion[c, c]
        fp = confusion[:, c].sum() - tp
        fn = confusion[c, :].sum() - tp
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan)
        iou.append(tp / (tp + fp + fn) if tp + fp + fn else np.nan)
    return np.trace(confusion) / confusion.sum(), np.array(f1), np.array(iou)


def run_metric(metric, pairs):
    for pred, label in pairs:
        sample = dict(
            pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
            gt_sem_seg=dict(data=torch.from_numpy(label)[None]))
        metric.process({}, [sample])
    return metric.compute_metrics(metric.results)


def test_isprs_metric_matches_pixel_counting():
    pytest.importorskip('mmseg')
    from sparse_backbones.evaluation import ISPRSMetric
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(3):
        label = rng.integers(0, 5, (20, 24))
        label[rng.random(label.shape) < 0.2] = 255  # boundaries, clutter
        pred = np.where(
            rng.random(label.shape) < 0.7, label,
            rng.integers(0, 5, label.shape))
        pred[pred == 255] = 0
        pairs.append((pred, label))
    metric = ISPRSMetric()
    metric.dataset_meta = dict(classes=FIVE_CLASSES)
    result = run_metric(metric, pairs)
    oa, f1, iou = naive_scores(
        np.stack([p for p, _ in pairs]), np.stack([t for _, t in pairs]), 5)
    assert set(result) == {'OA', 'mF1', 'mIoU'}
    assert result['OA'] == pytest.approx(oa * 100, abs=0.006)
    assert result['mF1'] == pytest.approx(np.nanmean(f1) * 100, abs=0.006)
    assert result['mIoU'] == pytest.approx(np.nanmean(iou) * 100, abs=0.006)
    # mmseg's IoUMetric on the same data: aAcc = OA, mFscore = mF1.
    from mmseg.evaluation import IoUMetric
    reference = IoUMetric(iou_metrics=['mIoU', 'mFscore'])
    reference.dataset_meta = metric.dataset_meta
    expected = run_metric(reference, pairs)
    assert result['OA'] == pytest.approx(expected['aAcc'], abs=0.01)
    assert result['mF1'] == pytest.approx(expected['mFscore'], abs=0.01)
    assert result['mIoU'] == pytest.approx(expected['mIoU'], abs=0.01)


def test_isprs_metric_small_known_case():
    pytest.importorskip('mmseg')
    from sparse_backbones.evaluation import ISPRSMetric
    label = np.array([[0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 0]])
    metric = ISPRSMetric()
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    result = run_metric(metric, [(pred, label)])
    # 2 of 3 counted pixels right; F1 a = 2/3, b = 2/3; c absent (NaN).
    assert result['OA'] == pytest.approx(66.67)
    assert result['mF1'] == pytest.approx(66.67)
    assert result['mIoU'] == pytest.approx(50.0)


# ---------------------------------------------------------------- configs --
@pytest.mark.parametrize('name,percent,dataset_type,num_classes', [
    ('aid_train20.py', 20, 'AIDDataset', 30),
    ('aid_train50.py', 50, 'AIDDataset', 30),
    ('nwpu_train10.py', 10, 'NWPURESISC45Dataset', 45),
    ('nwpu_train20.py', 20, 'NWPURESISC45Dataset', 45),
    ('ucm_train80.py', 80, 'UCMercedDataset', 21),
])
def test_scene_protocol_configs(name, percent, dataset_type, num_classes):
    cfg = load_cfg('_base_', 'datasets', name)
    train, test = aid_split_names(percent, 0)
    assert cfg.train_dataloader.dataset.ann_file == f'splits/{train}'
    for key in ('val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.ann_file == f'splits/{test}'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        assert dataset.type == f'sparse_backbones.{dataset_type}'
        assert dataset.data_prefix == 'images'
    assert cfg.data_preprocessor.num_classes == num_classes
    # The converter's default output is the config's data_root.
    tool_default = dict(
        AIDDataset='data/AID',
        NWPURESISC45Dataset='data/NWPU-RESISC45',
        UCMercedDataset='data/UCMerced_LandUse')[dataset_type]
    assert cfg.train_dataloader.dataset.data_root == tool_default


@pytest.mark.parametrize('dataset', ['potsdam', 'vaihingen'])
def test_isprs_protocol_configs(dataset):
    six = load_cfg('_base_', 'datasets', f'{dataset}.py')
    five = load_cfg('_base_', 'datasets', f'{dataset}_5cls.py')
    assert 'metainfo' not in six.train_dataloader.dataset
    assert six.val_evaluator.type == 'IoUMetric'
    assert 'mIoU' in six.val_evaluator.iou_metrics
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert five[key].dataset.metainfo.classes == FIVE_CLASSES
        assert five[key].dataset.data_root == f'data/{dataset}'
        assert five[key].dataset.type == six[key].dataset.type
    for key in ('val_evaluator', 'test_evaluator'):
        assert five[key] == dict(type='sparse_backbones.ISPRSMetric')
    pytest.importorskip('mmseg')
    from mmengine.registry import DefaultScope
    from mmseg.registry import METRICS

    from sparse_backbones.evaluation import ISPRSMetric
    with DefaultScope.overwrite_default_scope('mmseg'):
        assert isinstance(METRICS.build(five.val_evaluator), ISPRSMetric)


def test_isaid_config_uses_fifteen_classes():
    cfg = load_cfg('det', 'mask-rcnn_lemevit-tiny_fpn_1x_isaid.py')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.type == 'sparse_backbones.ISAIDDataset'
        assert 'metainfo' not in cfg[key].dataset
    assert cfg.train_dataloader.dataset.ann_file == \
        'train/instancesonly_filtered_train.json'
    assert cfg.val_evaluator.ann_file == \
        'data/iSAID/val/instancesonly_filtered_val.json'
    assert cfg.model.roi_head.bbox_head.num_classes == len(ISAID_CLASSES)
    assert cfg.model.roi_head.mask_head.num_classes == len(ISAID_CLASSES)


def test_demo_maps_isaid_onto_dota_with_a_matching_metric(tmp_path):
    pytest.importorskip('mmdet')
    cfg = load_cfg('det', 'mask-rcnn_lemevit-tiny_fpn_1x_isaid.py')
    original = copy.deepcopy(cfg)
    with pytest.warns(
            UserWarning,
            match="replaces dataset type 'sparse_"
            "backbones.ISAIDDataset'"):
        out = demo.prepare_demo(cfg, data_root=str(tmp_path))
    assert cfg.val_evaluator == original.val_evaluator
    for key in ('val_evaluator', 'test_evaluator'):
        assert out[key].type == 'VOCMetric'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = out[key].dataset
        assert dataset.type == 'sparse_backbones.DOTADataset'
        # only the demo's own prefix, no leftover of the iSAID layout
        assert list(dataset.data_prefix) == ['img_path']


def test_demo_keeps_evaluator_when_the_dataset_is_readable(tmp_path):
    pytest.importorskip('mmseg')
    cfg = load_cfg('seg', 'upernet_lemevit-tiny_4xb4-80k_vaihingen-512x512.py')
    cfg.val_evaluator = dict(type='sparse_backbones.ISPRSMetric')
    cfg.test_evaluator = cfg.val_evaluator
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        out = demo.prepare_demo(cfg, data_root=str(tmp_path))
    assert out.val_evaluator == dict(type='sparse_backbones.ISPRSMetric')
