# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/dataset_converters/dota.py: DOTA patches, labels and resuming."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import shapely
import torch

from sparse_backbones.datasets import DOTA_V1_CLASSES, parse_dota_label_file
from sparse_backbones.datasets.dota_labels import (dota_patch_name,
                                                   parse_dota_patch_name,
                                                   window_starts)

from tests import load_tool


tool = load_tool('dataset_converters/dota.py')

# Objects of a 700 (h) x 900 (w) image split into 256-pixel windows with a
# 56-pixel overlap: x starts 0 200 400 600 644, y starts 0 200 400 444.
LABELS = '\n'.join([
    'imagesource:GoogleEarth',
    'gsd:0.146343590398',
    '10 10 60 10 60 40 10 40 plane 0',  # only in the windows at x=0, y=0
    '230 100 290 100 290 130 230 130 ship 1',  # whole only at x=200
    '20 220 80 220 80 250 20 250 small-vehicle 0',  # in y=0 and y=200
    '100 236 150 236 150 261 100 261 harbor 0',  # 0.8 inside y=0
    '',
])


def write_source(root, stem='P0001', labels=LABELS, image=None) -> str:
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelTxt'), exist_ok=True)
    if image is None:
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, (700, 900, 3), dtype=np.uint8)
    cv2.imwrite(osp.join(root, 'images', stem + '.png'), image)
    if labels is not None:
        with open(osp.join(root, 'labelTxt', stem + '.txt'), 'w') as f:
            f.write(labels)
    return str(root)


def settings(**kwargs):
    values = dict(
        sizes=[256],
        gaps=[56],
        rates=[1.0],
        iof_thr=0.7,
        pad_value=[124, 116, 104],
        classes=list(DOTA_V1_CLASSES),
        with_labels=True)
    values.update(kwargs)
    return tool.SplitSettings(**values)


def read_patch_labels(out, name):
    return parse_dota_label_file(
        osp.join(out, 'labelTxt', name + '.txt'), DOTA_V1_CLASSES).objects


def test_patches_cover_the_image_with_the_official_names(tmp_path):
    src = write_source(tmp_path / 'src')
    out = str(tmp_path / 'out')
    (result, ) = tool.split_dota([src], out, settings(), progress=False)
    assert result.error is None and result.patches == 20
    names = sorted(
        osp.splitext(n)[0] for n in os.listdir(osp.join(out, 'images')))
    expected = sorted(f'P0001__256__{x}___{y}' for x in (0, 200, 400, 600, 644)
                      for y in (0, 200, 400, 444))
    assert names == expected
    assert sorted(os.listdir(osp.join(
        out, 'labelTxt'))) == [n + '.txt' for n in expected]
    source = cv2.imread(osp.join(src, 'images', 'P0001.png'))
    for name in ('P0001__256__644___444', 'P0001__256__200___0'):
        patch = parse_dota_patch_name(name)
        crop = source[patch.y:patch.y + 256, patch.x:patch.x + 256]
        written = cv2.imread(osp.join(out, 'images', name + '.png'))
        np.testing.assert_array_equal(written, crop)


def test_objects_are_kept_by_intersection_over_object(tmp_path):
    src = write_source(tmp_path / 'src')
    out = str(tmp_path / 'out')
    tool.split_dota([src], out, settings(), progress=False)
    (plane, vehicle, harbor) = read_patch_labels(out, 'P0001__256__0___0')
    assert (plane.class_name, plane.difficult) == ('plane', 0)
    assert plane.polygon == (10, 10, 60, 10, 60, 40, 10, 40)
    assert (vehicle.class_name, vehicle.difficult) == ('small-vehicle', 0)
    assert vehicle.polygon == (20, 220, 80, 220, 80, 250, 20, 250)
    # The harbor is 0.8 inside (y 236..256 of 236..261): kept, clipped to
    # the window and marked as truncated (difficult 2).
    assert (harbor.class_name, harbor.difficult) == ('harbor', 2)
    xs, ys = harbor.polygon[0::2], harbor.polygon[1::2]
    assert (min(xs), max(xs), min(ys), max(ys)) == (100, 150, 236, 256)
    # At y=200 the vehicle and the harbor are whole, shifted by the offset.
    (vehicle, harbor) = read_patch_labels(out, 'P0001__256__0___200')
    assert vehicle.polygon == (20, 20, 80, 20, 80, 50, 20, 50)
    assert harbor.polygon == (100, 36, 150, 36, 150, 61, 100, 61)
    assert vehicle.difficult == harbor.difficult == 0
    # The ship (x 230..290) is 26/60 inside the window at x=0: dropped;
    # whole at x=200, where it keeps its own difficulty (1).
    (ship, ) = read_patch_labels(out, 'P0001__256__200___0')
    assert ship.polygon == (30, 100, 90, 100, 90, 130, 30, 130)
    assert ship.difficult == 1
    # With a threshold below 26/60 the ship is kept at x=0 too, clipped.
    out_low = str(tmp_path / 'out_low')
    tool.split_dota([src], out_low, settings(iof_thr=0.4), progress=False)
    (plane, ship) = read_patch_labels(out_low, 'P0001__256__0___0')[:2]
    assert ship.class_name == 'ship' and ship.difficult == 2
    xs, ys = ship.polygon[0::2], ship.polygon[1::2]
    assert (min(xs), max(xs), min(ys), max(ys)) == (230, 256, 100, 130)


def test_multi_scale_names_and_coordinates(tmp_path):
    src = write_source(tmp_path / 'src')
    out = str(tmp_path / 'out')
    (result, ) = tool.split_dota([src],
                                 out,
                                 settings(rates=[0.5, 1.0]),
                                 progress=False)
    # 0.5: a 350 x 450 image -> x 0 194, y 0 94; 1.0: the 20 windows.
    assert result.patches == 4 + 20
    names = set(os.listdir(osp.join(out, 'images')))
    assert 'P0001__0.5__256__194___94.png' in names
    assert 'P0001__256__644___444.png' in names
    plane = read_patch_labels(out, 'P0001__0.5__256__0___0')[0]
    assert plane.polygon == (5, 5, 30, 5, 30, 20, 5, 20)
    args = tool.parse_args(['src', '--out-dir', 'o', '--multi-scale'])
    preset = tool.settings_from_args(args)
    assert (preset.rates, preset.gaps, preset.sizes) == ([0.5, 1.0,
                                                          1.5], [500], [1024])


def test_padding_uses_the_mean_and_odd_images_load(tmp_path):
    # A 16-bit grayscale image with 12-bit values, smaller than a window.
    gray16 = np.zeros((100, 150), np.uint16)
    gray16[:, 75:] = 4095
    src = write_source(tmp_path / 'src', 'G0001', '', gray16)
    rgba = np.full((90, 80, 4), (10, 20, 30, 0), np.uint8)
    write_source(tmp_path / 'src', 'A0001', '', rgba)
    out = str(tmp_path / 'out')
    results = tool.split_dota([src], out, settings(), progress=False)
    assert [r.error for r in results] == [None, None]
    patch = cv2.imread(
        osp.join(out, 'images', 'G0001__256__0___0.png'), cv2.IMREAD_UNCHANGED)
    assert patch.shape == (256, 256, 3) and patch.dtype == np.uint8
    np.testing.assert_array_equal(patch[0, 0], [0, 0, 0])
    # One fixed 16-bit scale for every image (sparse_backbones.datasets.
    # image_io): 4095 / 257 -> 16, not stretched to the image maximum.
    np.testing.assert_array_equal(patch[0, 149], [16, 16, 16])
    # BGR on disk of the RGB mean (124, 116, 104).
    np.testing.assert_array_equal(patch[0, 150], [104, 116, 124])
    np.testing.assert_array_equal(patch[255, 0], [104, 116, 124])
    patch = cv2.imread(osp.join(out, 'images', 'A0001__256__0___0.png'))
    np.testing.assert_array_equal(patch[0, 0], [10, 20, 30])
    # An empty label file: an image without objects, empty patch labels.
    assert read_patch_labels(out, 'G0001__256__0___0') == []
    # --bit-depth 12 opts in to the fixed 12-bit scale: 4095 -> 255.
    out12 = str(tmp_path / 'out12')
    results = tool.split_dota([src],
                              out12,
                              settings(bit_depth=12),
                              progress=False)
    assert [r.error for r in results] == [None, None]
    patch = cv2.imread(
        osp.join(out12, 'images', 'G0001__256__0___0.png'),
        cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(patch[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(patch[0, 149], [255, 255, 255])
    np.testing.assert_array_equal(patch[0, 150], [104, 116, 124])


def test_malformed_lines_are_reported_with_file_and_line(tmp_path, capsys):
    bad = LABELS + '1 2 3 plane 0\n' + '1 1 5 1 5 5 1 5 UFO 0\n' + \
        'a 1 5 1 5 5 1 5 plane 0\n'
    src = write_source(tmp_path / 'src', labels=bad)
    label = osp.join(src, 'labelTxt', 'P0001.txt')
    status = tool.main([
        src, '--out-dir',
        str(tmp_path / 'out'), '--sizes', '256', '--gaps', '56'
    ])
    captured = capsys.readouterr()
    assert status == 0
    assert f'{label}:7: expected 10 tokens' in captured.err
    assert f"{label}:8: unknown class 'UFO'" in captured.err
    assert f'{label}:9: coordinates must be numbers' in captured.err
    assert '3 unreadable label line(s) skipped' in captured.out
    # The good objects of the same file are still written.
    assert len(read_patch_labels(str(tmp_path / 'out'),
                                 'P0001__256__0___0')) == 3


def test_bad_sources_and_outputs_are_clear_errors(tmp_path, capsys):
    src = write_source(tmp_path / 'src')
    with pytest.raises(ValueError, match='never writes into its sources'):
        tool.split_dota([src], osp.join(src, 'split'), settings())
    with pytest.raises(FileNotFoundError, match='images/ and labelTxt/'):
        tool.split_dota([str(tmp_path / 'nowhere')], str(tmp_path / 'o'),
                        settings())
    test_split = str(tmp_path / 'test')
    write_source(test_split, labels=None)
    os.rmdir(osp.join(test_split, 'labelTxt'))
    assert tool.main([test_split, '--out-dir', str(tmp_path / 'o')]) == 2
    assert '--images-only' in capsys.readouterr().err
    no_label = str(tmp_path / 'no_label')
    write_source(no_label, labels=None)
    with pytest.raises(FileNotFoundError, match=r'P0001\.txt.*empty \.txt'):
        tool.split_dota([no_label], str(tmp_path / 'o2'), settings())
    # The test split without labels: images only.
    (result, ) = tool.split_dota([test_split],
                                 str(tmp_path / 'o3'),
                                 settings(with_labels=False),
                                 progress=False)
    assert result.patches == 20
    assert not osp.exists(osp.join(tmp_path, 'o3', 'labelTxt'))


def test_resume_skips_finished_images_and_checks_settings(tmp_path):
    src = write_source(tmp_path / 'src')
    write_source(tmp_path / 'src', 'P0002', '')
    out = str(tmp_path / 'out')
    results = tool.split_dota([src], out, settings(), nproc=2, progress=False)
    assert sorted(r.stem for r in results) == ['P0001', 'P0002']
    removed = osp.join(out, 'images', 'P0001__256__0___0.png')
    os.remove(removed)
    assert tool.split_dota([src], out, settings(), progress=False) == []
    assert not osp.exists(removed)  # finished images are not redone
    # An image missing from the record (interrupted) is split again.
    fingerprint = tool.input_fingerprint(
        osp.join(src, 'images', 'P0002.png'),
        osp.join(src, 'labelTxt', 'P0002.txt'))
    with open(osp.join(out, tool.DONE_FILE), 'w') as f:
        f.write(f'P0002\t{fingerprint}\n')
    (result, ) = tool.split_dota([src], out, settings(), progress=False)
    assert result.stem == 'P0001' and osp.exists(removed)
    with pytest.raises(ValueError, match='gaps differ'):
        tool.split_dota([src], out, settings(gaps=[100]), progress=False)


def test_rerun_splits_again_an_image_whose_inputs_changed(tmp_path):
    """A label file fixed since the last run is not skipped: the image is
    split again and its patches carry the new labels; an image whose size
    changed leaves no patch of the old windows behind."""
    src = write_source(tmp_path / 'src')
    write_source(tmp_path / 'src', 'P0002', '')
    out = str(tmp_path / 'out')
    tool.split_dota([src], out, settings(), progress=False)
    first = osp.join(out, 'labelTxt', 'P0001__256__0___0.txt')
    assert 'plane' in open(first).read()

    label = osp.join(src, 'labelTxt', 'P0001.txt')
    with open(label, 'w') as f:
        f.write('10 10 60 10 60 40 10 40 helicopter 0\n')
    stat = os.stat(label)
    os.utime(label, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (result, ) = tool.split_dota([src], out, settings(), progress=False)
    assert result.stem == 'P0001'  # P0002 is unchanged: skipped
    text = open(first).read()
    assert 'helicopter' in text and 'plane' not in text

    # A smaller image: the windows of the old size must not stay.
    old_windows = set(os.listdir(osp.join(out, 'images')))
    write_source(tmp_path / 'src', 'P0001', labels='',
                 image=np.zeros((300, 300, 3), np.uint8))
    (result, ) = tool.split_dota([src], out, settings(), progress=False)
    now = {n for n in os.listdir(osp.join(out, 'images'))
           if n.startswith('P0001__')}
    assert len(now) == result.patches == 4  # 300 px: x, y starts 0 and 44
    assert {n for n in old_windows if n.startswith('P0001__')} - now
    assert all(osp.exists(osp.join(out, 'labelTxt', n[:-4] + '.txt'))
               for n in now)
    assert len(os.listdir(osp.join(out, 'labelTxt'))) == len(
        os.listdir(osp.join(out, 'images')))


def test_split_labels_merge_back_to_a_perfect_score(tmp_path):
    """Perfect detections on every patch (its whole, non-difficult objects)
    shifted back and merged score 1 against the full-image labels."""
    from sparse_backbones.evaluation import DOTAMetric
    src = write_source(tmp_path / 'src')
    out = str(tmp_path / 'out')
    tool.split_dota([src], out, settings(), progress=False)
    metric = DOTAMetric(ann_dir=osp.join(src, 'labelTxt'), classwise=True)
    metric.dataset_meta = dict(classes=DOTA_V1_CLASSES)
    rows, cols = np.mgrid[0:256, 0:256]
    for name in sorted(os.listdir(osp.join(out, 'labelTxt'))):
        objects = [
            o for o in read_patch_labels(out, name[:-4]) if o.difficult == 0
        ]
        masks = [
            shapely.contains_xy(
                shapely.Polygon(np.reshape(o.polygon, (4, 2))), cols + 0.5,
                rows + 0.5) for o in objects
        ]
        metric.process({}, [
            dict(
                img_id=name[:-4],
                pred_instances=dict(
                    bboxes=torch.tensor([o.bbox
                                         for o in objects]).reshape(-1, 4),
                    scores=torch.ones(len(objects)),
                    labels=torch.tensor(
                        [DOTA_V1_CLASSES.index(o.class_name) for o in objects],
                        dtype=torch.int64),
                    masks=torch.from_numpy(
                        np.array(masks).reshape(-1, 256, 256))))
        ])
    metrics = metric.evaluate(size=len(metric.results))
    assert metrics['dota/task2_mAP'] == pytest.approx(1.)
    assert metrics['dota/task1_mAP'] == pytest.approx(1.)
    assert metrics['dota/task2_AP_small-vehicle'] == pytest.approx(1.)


@pytest.mark.parametrize('rate', [1.0, 0.5, 1.5, 2, 0.25])
@pytest.mark.parametrize('image', ['P0000', 'my__scene'])
def test_patch_names_round_trip(image, rate):
    name = dota_patch_name(image, 1024, 824, 0, rate)
    if rate == 1:
        assert name == f'{image}__1024__824___0'
    assert parse_dota_patch_name(name + '.png') == (image, 1024, 824, 0, rate)


def test_window_starts_end_at_the_border():
    assert window_starts(900, 256, 56) == [0, 200, 400, 600, 644]
    assert window_starts(1848, 1024, 200) == [0, 824]
    assert window_starts(100, 256, 56) == [0]
    with pytest.raises(ValueError, match='gap < size'):
        window_starts(100, 256, 256)
