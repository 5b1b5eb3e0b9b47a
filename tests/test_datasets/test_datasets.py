# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Dataset readers, the ISPRS colour decoder and the demo data generator."""
import filecmp
import os
import os.path as osp
import re
import warnings

import cv2
import numpy as np
import pytest

from sparse_backbones import demo
from sparse_backbones.datasets import (AID_CLASSES, DOTA_PALETTE,
                                       DOTA_V1_CLASSES, DOTA_V15_CLASSES,
                                       ISPRS_PALETTE_RGB, DOTALabelError,
                                       isprs_rgb_to_index, make_aid_split,
                                       parse_dota_label_file)

# The 10-token lines of an original DOTA-v1.0 label file, with its header.
DOTA_TXT = """imagesource:GoogleEarth
gsd:0.146343590398
10.0 20.0 50.0 20.0 50.0 40.0 10.0 40.0 plane 0
100 100 120 90 130 110 110 120 small-vehicle 1
60.5 60.5 90.5 60.5 90.5 80.5 60.5 80.5 ship 2
"""


def write(path, text: str) -> str:
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def make_dota_split(root, labels: dict, size: int = 64) -> str:
    """Write ``images/*.png`` + ``labelTxt/*.txt`` (None: no label file)."""
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelTxt'), exist_ok=True)
    for stem, text in labels.items():
        cv2.imwrite(
            osp.join(root, 'images', stem + '.png'),
            np.zeros((size, size, 3), np.uint8))
        if text is not None:
            write(osp.join(root, 'labelTxt', stem + '.txt'), text)
    return str(root)


# ------------------------------------------------------------ DOTA reader --
def test_parse_dota_label_file_objects_and_header(tmp_path):
    parsed = parse_dota_label_file(
        write(tmp_path / 'a.txt', DOTA_TXT), DOTA_V1_CLASSES)
    assert parsed.problems == []
    assert [o.class_name
            for o in parsed.objects] == ['plane', 'small-vehicle', 'ship']
    assert [o.difficult for o in parsed.objects] == [0, 1, 2]
    # Line numbers count the two header lines.
    assert [o.line for o in parsed.objects] == [3, 4, 5]
    assert parsed.objects[1].bbox == (100.0, 90.0, 130.0, 120.0)
    assert parsed.objects[0].polygon == (10, 20, 50, 20, 50, 40, 10, 40)


def test_parse_dota_label_file_reports_each_bad_line(tmp_path):
    text = (
        '10 20 50 20 50 40 10 40 plane 0\n'
        '10 20 50 20 50 40 plane 0\n'  # 8 tokens
        '10 20 5O 20 50 40 10 40 plane 0\n'  # letter O
        '10 20 50 20 50 40 10 40 airplane 0\n'  # unknown class
        '10 20 50 20 50 40 10 40 plane hard\n'  # difficult not an int
        '10 20 50 20 50 40 10 nan plane 0\n'  # non-finite
        '10 20 50 20 50 40 10 40 container-crane 0\n'  # v1.5 only
        '10 20 50 20 50 40 10 40 plane\n')  # 9 tokens: devkit-legal
    path = write(tmp_path / 'P0001.txt', text)
    parsed = parse_dota_label_file(path, DOTA_V1_CLASSES)
    assert [o.line for o in parsed.objects] == [1, 8]
    assert parsed.objects[1].difficult == 0
    assert [p.line for p in parsed.problems] == [2, 3, 4, 5, 6, 7]
    reasons = [p.reason for p in parsed.problems]
    assert 'got 8' in reasons[0]
    assert 'numbers' in reasons[1]
    assert "unknown class 'airplane'" in reasons[2]
    assert 'integer' in reasons[3]
    assert 'finite' in reasons[4]
    assert 'DOTAv15Dataset' in reasons[5]
    assert str(parsed.problems[0]).startswith(f'{path}:2: ')
    # The same line is fine for the v1.5 class list.
    parsed15 = parse_dota_label_file(path, DOTA_V15_CLASSES)
    assert 7 in [o.line for o in parsed15.objects]


def test_parse_dota_label_file_empty_is_no_objects(tmp_path):
    parsed = parse_dota_label_file(
        write(tmp_path / 'e.txt', ''), DOTA_V1_CLASSES)
    assert parsed.objects == [] and parsed.problems == []


# ---------------------------------------------------------- ISPRS decoder --
def test_isprs_rgb_to_index_known_colours_in_rgb_order():
    colours_rgb = [
        (255, 255, 255),  # impervious -> 1
        (0, 0, 255),  # building (blue) -> 2
        (0, 255, 255),  # low vegetation (cyan) -> 3
        (0, 255, 0),  # tree -> 4
        (255, 255, 0),  # car (yellow) -> 5
        (255, 0, 0),  # clutter (red) -> 6
        (0, 0, 0),  # eroded boundary -> 0
        (128, 64, 32),  # off-palette -> 0
    ]
    label = np.array([colours_rgb], np.uint8)  # (1, 8, 3)
    assert isprs_rgb_to_index(label).tolist() == [[1, 2, 3, 4, 5, 6, 0, 0]]
    assert isprs_rgb_to_index(label).dtype == np.uint8
    # The BGR mix-up: a blue building read with cv2 (BGR) and not flipped
    # looks red, i.e. clutter. Only RGB input gives "building".
    building_bgr = np.array([[[255, 0, 0]]], np.uint8)
    assert isprs_rgb_to_index(building_bgr)[0, 0] == 6
    assert isprs_rgb_to_index(building_bgr[..., ::-1])[0, 0] == 2


def mmseg_converter_decode(label_bgr: np.ndarray) -> np.ndarray:
    """Oracle: the colour table and 2B+3G+4R hash of mmseg's converter."""
    color_map_bgr = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0],
                              [255, 255, 0], [0, 255, 0], [0, 255, 255],
                              [0, 0, 255]])
    weights = np.array([2, 3, 4])
    codes = label_bgr.reshape(-1, 3).astype(np.int64) @ weights
    out = np.zeros(codes.shape, np.uint8)
    for index, colour in enumerate(color_map_bgr):
        out[codes == colour @ weights] = index
    return out.reshape(label_bgr.shape[:2])


def test_isprs_rgb_to_index_matches_mmseg_converter():
    rng = np.random.default_rng(0)
    palette = np.array(((0, 0, 0), ) + ISPRS_PALETTE_RGB, np.uint8)
    label_rgb = palette[rng.integers(0, len(palette), (32, 48))]
    expected = mmseg_converter_decode(
        np.ascontiguousarray(label_rgb[..., ::-1]))
    np.testing.assert_array_equal(isprs_rgb_to_index(label_rgb), expected)


def test_isprs_rgb_to_index_rejects_index_labels():
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        isprs_rgb_to_index(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match='uint8'):
        isprs_rgb_to_index(np.zeros((4, 4, 3), np.float32))


# -------------------------------------------------------------- AID split --
def make_aid_tree(root, per_class: int = 5, classes=AID_CLASSES[:3]):
    for name in classes:
        for i in range(1, per_class + 1):
            write(osp.join(root, name, f'{name.lower()}_{i}.jpg'), 'x')
    return str(root)


def test_make_aid_split_is_deterministic_and_per_class(tmp_path):
    root = make_aid_tree(tmp_path / 'AID', per_class=10)
    with pytest.warns(UserWarning, match='27 AID class folder'):
        train, test = make_aid_split(root, train_percent=20, seed=0)
    assert osp.basename(train) == 'train_20_seed0.txt'
    assert osp.basename(test) == 'test_80_seed0.txt'
    with open(train) as f:
        first = f.read()
    with open(test) as f:
        test_lines = f.read().split()
    with pytest.warns(UserWarning):
        make_aid_split(root, train_percent=20, seed=0)
    with open(train) as f:
        assert f.read() == first
    lines = first.splitlines()
    assert len(lines) == 3 * 2  # 20 % of 10 per class
    assert {line.split()[1] for line in lines} == {'0', '1', '2'}
    assert lines[0].startswith('Airport/airport_')
    assert not set(first.split()[0::2]) & set(test_lines[0::2])
    with pytest.warns(UserWarning):
        other, _ = make_aid_split(root, train_percent=20, seed=1)
    with open(other) as f:
        assert f.read() != first


def test_make_aid_split_rejects_a_wrong_root(tmp_path):
    make_aid_tree(tmp_path / 'outer' / 'AID')
    with pytest.raises(ValueError, match='not AID classes'):
        make_aid_split(str(tmp_path / 'outer'))
    with pytest.raises(FileNotFoundError, match='captain-whu'):
        make_aid_split(str(tmp_path / 'nowhere'))


# ------------------------------------------------------------- demo data --
@pytest.fixture(scope='session')
def demo_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('demo'))
    demo.make_aid_demo(osp.join(root, 'aid'))
    demo.make_dota_demo(osp.join(root, 'dota'))
    demo.make_potsdam_demo(osp.join(root, 'potsdam'))
    return root


def assert_same_tree(a: str, b: str) -> None:
    files_a = sorted(
        osp.relpath(osp.join(d, f), a) for d, _, fs in os.walk(a) for f in fs)
    files_b = sorted(
        osp.relpath(osp.join(d, f), b) for d, _, fs in os.walk(b) for f in fs)
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, files_a, shallow=False)
    assert not mismatch and not errors, mismatch[:5]


def test_demo_data_is_deterministic(demo_root, tmp_path):
    for name, make in (('aid', demo.make_aid_demo), ('dota',
                                                     demo.make_dota_demo),
                       ('potsdam', demo.make_potsdam_demo)):
        again = make(str(tmp_path / name))
        assert_same_tree(osp.join(demo_root, name), again)


def test_demo_is_generated_once_and_atomically(tmp_path):
    root = str(tmp_path / 'dota')
    demo.make_dota_demo(root)
    probe = osp.join(root, 'trainval', 'images', 'P0000__256__0___0.png')
    mtime = os.stat(probe).st_mtime_ns
    demo.make_dota_demo(root)  # complete: reused, not rewritten
    assert os.stat(probe).st_mtime_ns == mtime

    def interrupted(path):
        write(osp.join(path, 'half.txt'), 'x')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        demo._generate_once(str(tmp_path / 'broken'), interrupted)
    assert os.listdir(tmp_path) == ['dota']  # no half dataset, no temp dir

    os.makedirs(tmp_path / 'user_data')
    with pytest.raises(FileExistsError, match='not a complete demo'):
        demo.make_aid_demo(str(tmp_path / 'user_data'))


def test_demo_aid_layout(demo_root):
    root = osp.join(demo_root, 'aid')
    assert sorted(
        d for d in os.listdir(root)
        if d != 'splits' and not d.startswith('.')) == sorted(AID_CLASSES)
    assert osp.isfile(osp.join(root, 'Airport', 'airport_1.jpg'))
    img = cv2.imread(osp.join(root, 'StorageTanks', 'storagetanks_3.jpg'))
    assert img.shape == (demo.AID_DEMO_IMAGE_SIZE, ) * 2 + (3, )
    with open(osp.join(root, 'splits', 'train_50_seed0.txt')) as f:
        lines = f.read().splitlines()
    assert len(lines) == 30 * demo.AID_DEMO_IMAGES_PER_CLASS // 2
    for line in lines:
        path, label = line.rsplit(' ', 1)
        assert path.split('/')[0] == AID_CLASSES[int(label)]
        assert osp.isfile(osp.join(root, path))


def test_demo_dota_layout_and_objects_where_labels_say(demo_root):
    root = osp.join(demo_root, 'dota')
    name = re.compile(r'^P\d{4}__256__\d+___\d+$')
    difficult = checked = 0
    for split, count in demo.DOTA_DEMO_PATCHES.items():
        images = sorted(os.listdir(osp.join(root, split, 'images')))
        labels = sorted(os.listdir(osp.join(root, split, 'labelTxt')))
        assert len(images) == count
        stems = [osp.splitext(f)[0] for f in images]
        assert stems == [osp.splitext(f)[0] for f in labels]
        assert all(name.match(stem) for stem in stems)
        empty = 0
        for stem in stems:
            parsed = parse_dota_label_file(
                osp.join(root, split, 'labelTxt', stem + '.txt'),
                DOTA_V1_CLASSES)
            assert parsed.problems == []
            empty += not parsed.objects
            difficult += sum(o.difficult for o in parsed.objects)
            img = cv2.imread(osp.join(root, split, 'images', stem + '.png'))
            assert img.shape == (256, 256, 3)
            for obj in parsed.objects:
                poly = np.array(obj.polygon).reshape(4, 2)
                sides = np.linalg.norm(poly[1:3] - poly[0:2], axis=1)
                if sides.min() < 12:
                    continue  # too thin to probe away from the edges
                # The ring between the outline and the darker inner mark is
                # painted in the class colour.
                centre = poly.mean(0)
                edge_mid = (poly[0] + poly[1]) / 2
                x, y = np.rint(centre + 0.67 * (edge_mid - centre)).astype(int)
                rgb = img[y, x, ::-1].astype(int)
                colour = DOTA_PALETTE[DOTA_V1_CLASSES.index(obj.class_name)]
                assert np.abs(rgb - colour).max() <= 16, (stem, obj)
                checked += 1
        assert empty == 1
    assert difficult > 0 and checked >= 50


def test_demo_potsdam_layout_matches_mmseg_converter(demo_root):
    root = osp.join(demo_root, 'potsdam')
    name = re.compile(r'^\d_\d+_\d+_\d+_\d+_\d+\.png$')
    values = set()
    for split, tiles in demo.POTSDAM_DEMO_TILES.items():
        images = sorted(os.listdir(osp.join(root, 'img_dir', split)))
        assert images == sorted(os.listdir(osp.join(root, 'ann_dir', split)))
        rows, cols = demo.POTSDAM_DEMO_GRID[split]
        assert len(images) == len(tiles) * rows * cols
        assert all(name.match(f) for f in images)
        assert {'_'.join(f.split('_')[:2]) for f in images} == set(tiles)
        for f in images:
            x0, y0, x1, y1 = map(int, f[:-4].split('_')[2:])
            img = cv2.imread(osp.join(root, 'img_dir', split, f))
            ann = cv2.imread(
                osp.join(root, 'ann_dir', split, f), cv2.IMREAD_UNCHANGED)
            assert img.shape == (y1 - y0, x1 - x0, 3)
            assert ann.shape == (y1 - y0, x1 - x0) and ann.dtype == np.uint8
            values.update(np.unique(ann).tolist())
    # 0 = eroded boundary, 1..6 = classes, as mmseg's converter writes.
    assert values <= set(range(7)) and {0, 1, 2, 3, 4} <= values


def test_demo_potsdam_image_follows_label(demo_root):
    """Each class has its own look in the image: learnable structure."""
    root = osp.join(demo_root, 'potsdam')
    means = {}
    for f in os.listdir(osp.join(root, 'img_dir', 'train')):
        img = cv2.imread(osp.join(root, 'img_dir', 'train', f))[..., ::-1]
        ann = cv2.imread(osp.join(root, 'ann_dir', 'train', f), 0)
        for index in (1, 2, 3, 4):
            if (ann == index).sum() > 50:
                means.setdefault(index, []).append(img[ann == index].mean(0))
    means = {k: np.mean(v, 0) for k, v in means.items()}
    # tree (4) is dark green, building (2) reddish, impervious (1) grey.
    assert means[4][1] > means[4][0] and means[4].sum() < means[1].sum()
    assert means[2][0] > means[2][1] + 40
    assert np.ptp(means[1]) < 20


# --------------------------------------------------------------- hosts ----
@pytest.fixture
def mmdet_scope():
    pytest.importorskip('mmdet')
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def build_dota(root, **kwargs):
    from mmdet.registry import DATASETS
    cfg = dict(
        type='sparse_backbones.DOTADataset',
        data_root=str(root),
        ann_file='labelTxt/',
        data_prefix=dict(img_path='images/'))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_dota_dataset_instances(tmp_path, mmdet_scope):
    root = make_dota_split(tmp_path, {
        'P0000__1024__0___0': DOTA_TXT,
        'P0001__1024__0___824': ''
    })
    dataset = build_dota(root)
    assert len(dataset) == 2
    assert dataset.metainfo['classes'] == DOTA_V1_CLASSES
    info = dataset.get_data_info(0)
    assert info['img_id'] == 'P0000__1024__0___0'
    assert (info['width'], info['height']) == (64, 64)
    plane, vehicle, ship = info['instances']
    assert plane['bbox'] == [10.0, 20.0, 50.0, 40.0]
    assert plane['mask'] == [[10.0, 20.0, 50.0, 20.0, 50.0, 40.0, 10.0, 40.0]]
    assert plane['bbox_label'] == DOTA_V1_CLASSES.index('plane')
    # difficult (1) and truncated (2) objects are ignored
    assert [i['ignore_flag'] for i in (plane, vehicle, ship)] == [0, 1, 1]
    assert dataset.get_data_info(1)['instances'] == []
    kept = build_dota(root, ignore_difficult=False)
    assert [i['ignore_flag']
            for i in kept.get_data_info(0)['instances']] == [0, 0, 0]


def test_dota_dataset_warns_with_file_and_line(tmp_path, mmdet_scope):
    bad = DOTA_TXT + '1 2 3 4 plane 0\n' + \
        '1 2 3 2 3 4 1 4 UFO 0\n'
    root = make_dota_split(tmp_path, {'P0000__1024__0___0': bad})
    label = osp.join(root, 'labelTxt', 'P0000__1024__0___0.txt')
    with pytest.warns(UserWarning) as record:
        dataset = build_dota(root)
    message = '\n'.join(str(w.message) for w in record)
    assert 'skipped 2 unreadable label line(s)' in message
    assert f'{label}:6: expected 10 tokens' in message
    assert f"{label}:7: unknown class 'UFO'" in message
    assert [p.line for p in dataset.malformed_lines] == [6, 7]
    assert len(dataset.get_data_info(0)['instances']) == 3
    with pytest.raises(DOTALabelError, match=f'{re.escape(label)}:6'):
        build_dota(root, on_malformed='raise')


def test_dota_dataset_degenerate_box_is_ignored_not_dropped(
        tmp_path, mmdet_scope):
    line = '5 5 5 5 5 30 5 30 bridge 0\n'  # zero width
    root = make_dota_split(tmp_path, {'P0000__1024__0___0': line})
    with pytest.warns(UserWarning, match=r'smaller than 1 pixel'):
        dataset = build_dota(root)
    (instance, ) = dataset.get_data_info(0)['instances']
    assert instance['ignore_flag'] == 1
    assert len(dataset.degenerate_objects) == 1


def test_dota_dataset_missing_data_messages(tmp_path, mmdet_scope):
    with pytest.raises(FileNotFoundError) as err:
        build_dota(tmp_path / 'split_ss_dota' / 'trainval')
    message = str(err.value)
    assert osp.join(str(tmp_path), 'split_ss_dota', 'trainval',
                    'images') in message
    assert 'subsize=1024, gap=200' in message
    assert 'tools/dataset_converters/dota.py data/DOTA/train' in message
    assert '--demo' in message

    root = make_dota_split(tmp_path / 'x', {'P0000': DOTA_TXT, 'P0001': None})
    with pytest.raises(
            FileNotFoundError,
            match=r'1 image\(s\) have no '
            r'label file.*\n  P0001.txt'):
        build_dota(root)


def test_dota_dataset_filter_cfg(tmp_path, mmdet_scope):
    only_difficult = '1 1 20 1 20 20 1 20 ship 1\n'
    root = make_dota_split(tmp_path, {
        'A': DOTA_TXT,
        'B': '',
        'C': only_difficult
    })
    train = build_dota(root, filter_cfg=dict(filter_empty_gt=True))
    assert [train.get_data_info(i)['img_id']
            for i in range(len(train))] == ['A']
    with pytest.raises(ValueError, match='removed all 3 images'):
        build_dota(root, filter_cfg=dict(min_size=100))
    test = build_dota(
        root, filter_cfg=dict(filter_empty_gt=True), test_mode=True)
    assert len(test) == 3


def test_dota_voc_metric_ignores_difficult(tmp_path, mmdet_scope):
    """mmdet's VOCMetric honours our ignore flags: detecting a difficult
    object is neither a hit nor a false positive, missing it costs nothing.
    """
    import torch
    from mmdet.evaluation import VOCMetric
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(
            type='PackDetInputs',
            meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape'))
    ]
    ships = ('10 20 50 20 50 40 10 40 ship 0\n'
             '100 100 130 100 130 120 100 120 ship 1\n')
    root = make_dota_split(tmp_path, {'A': ships}, size=160)
    dataset = build_dota(root, pipeline=test_pipeline, test_mode=True)
    sample = dataset[0]['data_samples']
    assert len(sample.gt_instances) == 1
    assert len(sample.ignored_instances) == 1

    def score(boxes):
        metric = VOCMetric(metric='mAP', eval_mode='11points', iou_thrs=0.5)
        metric.dataset_meta = dataset.metainfo
        result = sample.to_dict()
        result['pred_instances'] = dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            scores=torch.linspace(0.9, 0.5, len(boxes)),
            labels=torch.full((len(boxes), ), DOTA_V1_CLASSES.index('ship')))
        metric.process({}, [result])
        return metric.evaluate(1)['pascal_voc/mAP']

    normal, difficult = [10, 20, 50, 40], [100, 100, 130, 120]
    # Missing the difficult ship costs nothing (it is not a plain gt) ...
    assert score([normal]) == pytest.approx(1.0)
    # ... and finding it first is no false positive (it was not dropped).
    assert score([difficult, normal]) == pytest.approx(1.0)
    # A real false positive ranked first does cost.
    assert score([[0, 0, 5, 5], normal]) == pytest.approx(0.5, abs=0.01)


def test_dota_demo_through_mmdet_pipeline(demo_root, mmdet_scope):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(
            type='LoadAnnotations',
            with_bbox=True,
            with_mask=True,
            poly2mask=False),
        dict(type='PackDetInputs')
    ]
    dataset = build_dota(
        osp.join(demo_root, 'dota', 'trainval'), pipeline=pipeline)
    sample = dataset[0]['data_samples']
    assert len(sample.gt_instances) > 0
    masks = sample.gt_instances.masks.to_ndarray()
    boxes = sample.gt_instances.bboxes.tensor.numpy()
    for mask, (x1, y1, x2, y2) in zip(masks, boxes):
        ys, xs = np.nonzero(mask)
        assert abs(xs.min() - x1) <= 1.5 and abs(ys.max() + 1 - y2) <= 1.5


def test_aid_dataset(demo_root, tmp_path):
    pytest.importorskip('mmpretrain')
    from mmpretrain.registry import DATASETS
    root = osp.join(demo_root, 'aid')
    cfg = dict(
        type='sparse_backbones.AIDDataset',
        data_root=root,
        ann_file='splits/train_50_seed0.txt')
    dataset = DATASETS.build(cfg)
    assert dataset.CLASSES == AID_CLASSES
    assert len(dataset) == 30 * demo.AID_DEMO_IMAGES_PER_CLASS // 2
    info = dataset.get_data_info(0)
    assert info['img_path'].startswith(osp.join(root, 'Airport'))
    assert info['gt_label'] == 0

    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(dict(cfg, ann_file='splits/train_20_seed3.txt'))
    message = str(err.value)
    assert osp.join(root, 'splits', 'train_20_seed3.txt') in message
    assert 'tools/dataset_converters/aid.py aid' in message
    assert '--train-percents 20 --seeds 3' in message
    with pytest.raises(FileNotFoundError, match='AID image folder'):
        DATASETS.build(dict(cfg, data_root=str(tmp_path / 'AID')))

    bad = write(tmp_path / 'bad.txt', 'Airport/airport_1.jpg 0\n'
                'Airport/airport_2.jpg 30\n')
    with pytest.raises(ValueError, match=r'bad.txt:2: label 30 is outside'):
        DATASETS.build(dict(cfg, ann_file=bad))
    bad = write(tmp_path / 'bad2.txt', 'Airport/airport_1.jpg\n')
    with pytest.raises(ValueError, match=r'bad2.txt:1: expected'):
        DATASETS.build(dict(cfg, ann_file=bad))
    gone = write(tmp_path / 'gone.txt', 'Airport/airport_999.jpg 0\n')
    with pytest.raises(FileNotFoundError, match='airport_999.jpg'):
        DATASETS.build(dict(cfg, ann_file=gone))


def build_potsdam(root, split='train', **kwargs):
    from mmseg.registry import DATASETS
    cfg = dict(
        type='sparse_backbones.ISPRSPotsdamDataset',
        data_root=str(root),
        data_prefix=dict(
            img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_potsdam_dataset(demo_root, tmp_path):
    pytest.importorskip('mmseg')
    from mmengine.registry import DefaultScope
    root = osp.join(demo_root, 'potsdam')
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = build_potsdam(root)
        assert len(dataset) == 16
        assert dataset.reduce_zero_label
        assert dataset.get_data_info(0)['seg_map_path'].startswith(
            osp.join(root, 'ann_dir', 'train'))

        with pytest.raises(FileNotFoundError) as err:
            build_potsdam(tmp_path / 'potsdam')
        assert osp.join(str(tmp_path), 'potsdam', 'img_dir',
                        'train') in str(err.value)
        assert 'dataset_converters/isprs.py potsdam' in str(err.value)

        # Colour labels (not converted) are rejected with the fix.
        bad = tmp_path / 'rgb'
        os.makedirs(bad / 'img_dir' / 'train')
        os.makedirs(bad / 'ann_dir' / 'train')
        image = np.zeros((8, 8, 3), np.uint8)
        cv2.imwrite(str(bad / 'img_dir' / 'train' / '2_10_0_0_8_8.png'), image)
        cv2.imwrite(str(bad / 'ann_dir' / 'train' / '2_10_0_0_8_8.png'), image)
        with pytest.raises(ValueError, match='isprs_rgb_to_index'):
            build_potsdam(bad)


def test_potsdam_five_class_protocol_ignores_clutter(demo_root):
    """metainfo with 5 classes maps clutter to 255 (ignored)."""
    pytest.importorskip('mmseg')
    from mmengine.registry import DefaultScope
    classes = ('impervious_surface', 'building', 'low_vegetation', 'tree',
               'car')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]
    with DefaultScope.overwrite_default_scope('mmseg'), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        six = build_potsdam(osp.join(demo_root, 'potsdam'), pipeline=pipeline)
        five = build_potsdam(
            osp.join(demo_root, 'potsdam'),
            pipeline=pipeline,
            metainfo=dict(classes=classes))
        for i in range(len(six)):
            a = six[i]['data_samples'].gt_sem_seg.data
            if (a == 5).any():
                break
        b = five[i]['data_samples'].gt_sem_seg.data
    assert (a == 5).any() and not (b == 5).any()
    assert (b[a == 5] == 255).all()
    assert (a[a < 5] == b[a < 5]).all()


def test_missing_host_gives_a_clear_error():
    from sparse_backbones.datasets._common import register_unavailable
    from sparse_backbones.registry import DATASETS
    register_unavailable('_ProbeDataset', 'mmfoo', ImportError('no mmfoo'))
    try:
        with pytest.raises(ImportError, match='_ProbeDataset needs mmfoo'):
            DATASETS.build(dict(type='_ProbeDataset'))
    finally:
        DATASETS._module_dict.pop('_ProbeDataset')
        DATASETS.parent._module_dict.pop('_ProbeDataset')
