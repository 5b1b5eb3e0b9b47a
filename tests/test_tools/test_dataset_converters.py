# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/dataset_converters/{aid,isprs,isaid}.py on small files written in
the official formats (archive names, folder layouts, file names, colour
encodings)."""
import json
import math
import os
import os.path as osp
import zipfile

import cv2
import numpy as np
import pytest

from sparse_backbones.datasets import (ISAID_CLASSES, NWPU_RESISC45_CLASSES,
                                       UCMERCED_CLASSES, clip_windows)
from sparse_backbones.datasets.classes import ISAID_PALETTE_RGB

from tests import load_tool


def snapshot(root) -> dict:
    """Path -> (size, mtime, bytes) of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[path] = (os.stat(path).st_mtime_ns, f.read())
    return files


def tree(root) -> dict:
    """Relative path -> bytes of every file under ``root``."""
    return {
        osp.relpath(path, root): data
        for path, (_, data) in snapshot(root).items()
    }


def encode(rgb: np.ndarray, ext: str = '.tif') -> bytes:
    """Encode an RGB (or single-channel) array as the file would hold it."""
    image = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, data = cv2.imencode(ext, np.ascontiguousarray(image))
    assert ok
    return data.tobytes()


# ------------------------------------------------------------ scene splits --
def write_scene_tree(root, classes, per_class, ext='.jpg', name_fmt=None):
    rng = np.random.default_rng(0)
    for name in classes:
        os.makedirs(osp.join(root, name), exist_ok=True)
        for i in range(per_class):
            file = (name_fmt or '{name}_{i:03d}').format(name=name, i=i + 1)
            image = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            with open(osp.join(root, name, file + ext), 'wb') as f:
                f.write(encode(image, ext))
    return str(root)


def read_split(path):
    with open(path) as f:
        return [line.rsplit(' ', 1) for line in f.read().splitlines()]


def test_nwpu_splits_are_stratified_deterministic_and_outside_src(tmp_path):
    aid = load_tool('dataset_converters/aid.py')
    classes = NWPU_RESISC45_CLASSES[:3]
    src = write_scene_tree(tmp_path / 'NWPU-RESISC45', classes, 10)
    before = snapshot(src)
    out = str(tmp_path / 'data' / 'NWPU-RESISC45')
    with pytest.warns(UserWarning, match='42 NWPU-RESISC45 class folder'):
        assert aid.main(['nwpu', src, '--out-dir', out]) == 0
    splits = sorted(os.listdir(osp.join(out, 'splits')))
    assert splits == sorted(
        f'{kind}_{p if kind == "train" else 100 - p}_seed{seed}.txt'
        for p in (10, 20) for seed in range(5) for kind in ('train', 'test'))
    for percent in (10, 20):
        for seed in range(5):
            train = read_split(
                osp.join(out, 'splits', f'train_{percent}_seed{seed}.txt'))
            test = read_split(
                osp.join(out, 'splits',
                         f'test_{100 - percent}_seed{seed}.txt'))
            # per class: round(10 * p / 100) training images
            for label, name in enumerate(classes):
                in_train = [f for f, lab in train if int(lab) == label]
                assert len(in_train) == percent // 10
                assert all(f.startswith(name + '/') for f in in_train)
            files = [f for f, _ in train + test]
            assert len(files) == len(set(files)) == 30
    first = tree(osp.join(out, 'splits'))
    seed0 = first['train_20_seed0.txt']
    assert seed0 != first['train_20_seed1.txt']
    # Rerun: the same bytes, nothing left over, the source untouched.
    with pytest.warns(UserWarning):
        aid.main(['nwpu', src, '--out-dir', out])
    assert tree(osp.join(out, 'splits')) == first
    assert snapshot(src) == before
    # The link makes the split paths resolve.
    image_dir = osp.join(out, 'images')
    assert osp.realpath(image_dir) == osp.realpath(src)
    for file, _ in read_split(osp.join(out, 'splits', 'train_20_seed0.txt')):
        assert osp.isfile(osp.join(image_dir, file))


def test_split_tool_names_the_shipped_config_from_any_folder(
        tmp_path, monkeypatch, capsys):
    """Run outside the repository, the tool still finds the dataset config
    that reads its splits (from the package, not the working directory)."""
    aid = load_tool('dataset_converters/aid.py')
    src = write_scene_tree(tmp_path / 'NWPU-RESISC45',
                           NWPU_RESISC45_CLASSES[:2], 10)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.warns(UserWarning):
        assert aid.main(['nwpu', src, '--out-dir', str(tmp_path / 'out'),
                         '--seeds', '0']) == 0
    out = capsys.readouterr().out
    read_by = [
        line.split('read by ')[1].split(' (')[0]
        for line in out.splitlines() if 'read by ' in line
    ]
    assert [osp.basename(p) for p in read_by] == [
        'nwpu_train10.py', 'nwpu_train20.py'
    ]
    assert all(osp.isfile(p) for p in read_by)
    assert 'no dataset config' not in out


def test_split_tool_refuses_to_write_into_the_source(tmp_path):
    aid = load_tool('dataset_converters/aid.py')
    src = write_scene_tree(tmp_path / 'AID', ('Airport', 'BareLand'), 4)
    before = snapshot(src)
    with pytest.raises(ValueError, match='inside the source folder'):
        aid.main(['aid', src, '--out-dir', osp.join(src, 'splits_here')])
    with pytest.raises(FileNotFoundError, match='captain-whu'):
        aid.main([
            'aid',
            str(tmp_path / 'nowhere'), '--out-dir',
            str(tmp_path / 'out')
        ])
    assert snapshot(src) == before
    assert not osp.exists(osp.join(src, 'splits_here'))


def test_ucm_finds_images_folder_and_loads_16bit_and_gray(tmp_path):
    """UC Merced's zip unpacks to UCMerced_LandUse/Images/<class>/*.tif; a
    16-bit grayscale TIFF among them still loads as 8-bit RGB."""
    pytest.importorskip('mmpretrain')
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    aid = load_tool('dataset_converters/aid.py')
    images = tmp_path / 'UCMerced_LandUse' / 'Images'
    write_scene_tree(
        images, UCMERCED_CLASSES, 5, ext='.tif', name_fmt='{name}{i:02d}')
    odd = osp.join(images, 'agricultural', 'agricultural05.tif')
    gray16 = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    with open(odd, 'wb') as f:
        f.write(encode(gray16))
    out = str(tmp_path / 'out')
    aid.main(['ucm', str(tmp_path / 'UCMerced_LandUse'), '--out-dir', out])
    assert osp.realpath(osp.join(out, 'images')) == osp.realpath(images)
    train = read_split(osp.join(out, 'splits', 'train_80_seed0.txt'))
    assert len(train) == 21 * 4

    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(
            dict(
                type='sparse_backbones.UCMercedDataset',
                data_root=out,
                data_prefix='images',
                ann_file='splits/test_20_seed0.txt',
                pipeline=pipeline))
        assert len(dataset) == 21
        assert dataset.metainfo['classes'] == UCMERCED_CLASSES
        inputs = None
        for split in ('test_20', 'train_80'):
            dataset = DATASETS.build(
                dict(
                    type='sparse_backbones.UCMercedDataset',
                    data_root=out,
                    data_prefix='images',
                    ann_file=f'splits/{split}_seed0.txt',
                    pipeline=pipeline))
            for i in range(len(dataset)):
                if dataset.get_data_info(i)['img_path'] == odd.replace(
                        str(images), osp.join(out, 'images')):
                    inputs = dataset[i]['inputs']
    assert inputs is not None, 'the 16-bit image is in no split'
    assert inputs.shape == (3, 8, 8) and not inputs.dtype.is_floating_point
    # 16-bit values scaled to 8 bits, the same in all three channels.
    assert (inputs[0] == inputs[1]).all() and inputs.max() > 100


# ------------------------------------------------------------------- ISPRS --
# Label colours in RGB, as in the ISPRS files, with mmseg's index values.
RGB_TO_INDEX = {
    (255, 255, 255): 1,  # impervious surfaces
    (0, 0, 255): 2,  # building (blue)
    (0, 255, 255): 3,  # low vegetation (cyan)
    (0, 255, 0): 4,  # tree
    (255, 255, 0): 5,  # car (yellow)
    (255, 0, 0): 6,  # clutter (red)
    (0, 0, 0): 0,  # eroded boundary
}


def isprs_tile(height, width, seed):
    """(RGB image, RGB label, expected index label) of one synthetic tile:
    vertical bands of every colour, so a B<->R mix-up swaps building and
    clutter, low vegetation and car."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    colours = list(RGB_TO_INDEX)
    band = np.arange(width) * len(colours) // width
    label = np.array(colours, np.uint8)[band][None].repeat(height, 0)
    index = np.array([RGB_TO_INDEX[c] for c in colours], np.uint8)[band]
    return image, label, index[None].repeat(height, 0)


def write_zip(path, members: dict) -> str:
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with zipfile.ZipFile(path, 'w') as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def potsdam_source(root, sizes=None):
    """The two Potsdam zips with tiles 2_10 (train) and 5_15 (val); 5_15's
    image is 16-bit. Returns the expected (image, index) per tile."""
    sizes = sizes or {'2_10': (40, 56), '5_15': (20, 20)}
    images, labels, expected = {}, {}, {}
    for seed, (tile, (h, w)) in enumerate(sizes.items()):
        image, label, index = isprs_tile(h, w, seed)
        stored = image.astype(np.uint16) * 257 if tile == '5_15' else image
        images[f'2_Ortho_RGB/top_potsdam_{tile}_RGB.tif'] = encode(stored)
        images[f'2_Ortho_RGB/top_potsdam_{tile}_RGB.tfw'] = b'0.05\n'
        labels[f'top_potsdam_{tile}_label_noBoundary.tif'] = encode(label)
        expected[tile] = (image, index)
    write_zip(osp.join(root, '2_Ortho_RGB.zip'), images)
    write_zip(osp.join(root, '5_Labels_all_noBoundary.zip'), labels)
    return expected


def read_png(path, flag=cv2.IMREAD_UNCHANGED):
    image = cv2.imread(str(path), flag)
    assert image is not None, path
    return image


def test_potsdam_patches_labels_and_splits(tmp_path):
    isprs = load_tool('dataset_converters/isprs.py')
    src = tmp_path / 'potsdam_zips'
    expected = potsdam_source(src)
    before = snapshot(src)
    out = str(tmp_path / 'data' / 'potsdam')
    counts = isprs.convert('potsdam', str(src), out, clip_size=16, stride=16)
    assert counts == dict(train=12, val=4)  # 3 rows x 4 cols, 2 x 2
    train = sorted(os.listdir(osp.join(out, 'img_dir', 'train')))
    assert train == sorted(os.listdir(osp.join(out, 'ann_dir', 'train')))
    assert '2_10_0_0_16_16.png' in train
    assert '2_10_40_24_56_40.png' in train  # border-aligned last window
    assert os.listdir(osp.join(out, 'img_dir', 'val'))[0].startswith('5_15_')
    for split, tile in (('train', '2_10'), ('val', '5_15')):
        image, index = expected[tile]
        for name in os.listdir(osp.join(out, 'ann_dir', split)):
            x0, y0, x1, y1 = map(int, name[:-4].split('_')[2:])
            ann = read_png(osp.join(out, 'ann_dir', split, name))
            assert ann.ndim == 2 and ann.dtype == np.uint8
            np.testing.assert_array_equal(ann, index[y0:y1, x0:x1])
            img = read_png(osp.join(out, 'img_dir', split, name))
            # RGB content, stored BGR; the 16-bit tile became 8-bit.
            np.testing.assert_array_equal(img[..., ::-1], image[y0:y1, x0:x1])
    assert snapshot(src) == before

    # A rerun rewrites the same bytes and leaves no temporary file.
    first = tree(out)
    isprs.convert('potsdam', str(src), out, clip_size=16, stride=16)
    assert tree(out) == first
    assert not [p for p in first if '.tmp-' in p]
    # Patches of another size would mix with these: refused, untouched.
    with pytest.raises(ValueError, match=r'other settings \(clip_size, '
                       r'stride differ'):
        isprs.convert('potsdam', str(src), out, clip_size=8, stride=8)
    assert tree(out) == first


def test_isprs_label_colours_decode_in_rgb_order(tmp_path):
    """Known colours: blue is building (2), red clutter (6), cyan low
    vegetation (3), yellow car (5) -- swapped if read as RGB from BGR."""
    from sparse_backbones.datasets import decode_isprs_label
    rgb = np.array([[c for c in RGB_TO_INDEX]], np.uint8)
    decoded, off_palette = decode_isprs_label(encode(rgb, '.png'),
                                              'label.png')
    assert decoded.tolist() == [list(RGB_TO_INDEX.values())]
    assert off_palette == {}  # black boundaries are part of the palette
    # An alpha band is ignored; a single-channel file is refused.
    bgra = np.concatenate(
        [rgb[..., ::-1], np.full((1, 7, 1), 255, np.uint8)], -1)
    ok, data = cv2.imencode('.png', bgra)
    assert decode_isprs_label(data.tobytes(), 'a.png')[0].tolist() == \
        decoded.tolist()
    with pytest.raises(ValueError, match='RGB colour image'):
        decode_isprs_label(encode(np.zeros((4, 4), np.uint8), '.png'), 'g')


def test_off_palette_label_colours_are_counted_and_refused(tmp_path,
                                                          capsys):
    """Colours that are no class become ignored pixels: a few are reported,
    many (a JPEG-compressed label) refuse the tile, naming file, colours,
    counts and the likely cause, unless --accept-off-palette."""
    isprs = load_tool('dataset_converters/isprs.py')
    src = tmp_path / 'zips'
    expected = potsdam_source(src)
    labels_zip = src / '5_Labels_all_noBoundary.zip'
    image, index = expected['2_10']
    _, label, _ = isprs_tile(*index.shape, 0)
    # A lossy round trip, as a JPEG-compressed label file would be.
    ok, jpeg = cv2.imencode('.jpg', label[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 75])
    lossy = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
    with zipfile.ZipFile(labels_zip) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members['top_potsdam_2_10_label_noBoundary.tif'] = encode(lossy)
    write_zip(labels_zip, members)
    out = tmp_path / 'out'
    with pytest.raises(ValueError) as error:
        isprs.convert('potsdam', str(src), str(out), clip_size=16, stride=16)
    message = str(error.value)
    assert 'top_potsdam_2_10_label_noBoundary.tif' in message
    assert 'JPEG' in message and '--accept-off-palette' in message
    from sparse_backbones.datasets.isprs import off_palette_colours
    found = off_palette_colours(lossy)
    assert len(found) > 32  # JPEG noise: many colours
    assert f'{sum(found.values())} of {index.size} pixels' in message
    assert not out.exists() or not any(out.rglob('*.png'))  # nothing written

    counts = isprs.convert('potsdam', str(src), str(out), clip_size=16,
                           stride=16, accept_off_palette=True)
    assert counts == dict(train=12, val=4)
    printed = capsys.readouterr().out
    assert 'off-palette pixels in top_potsdam_2_10_label_noBoundary.tif: ' \
        f'{sum(found.values())}' in printed
    assert 'in 1 of 2 label file(s)' in printed


def test_a_few_off_palette_pixels_are_reported_not_refused(tmp_path,
                                                           capsys):
    from sparse_backbones.datasets.isprs import (OFF_PALETTE_LIMIT,
                                                 decode_isprs_label)
    label = np.zeros((100, 100, 3), np.uint8)
    label[:50] = (0, 0, 255)
    label[0, :int(OFF_PALETTE_LIMIT * label.size / 3)] = (10, 20, 30)
    index, found = decode_isprs_label(encode(label, '.png'), 'few.png')
    assert found == {(10, 20, 30): 10}
    assert index[0, 0] == 0 and index[0, 50] == 2
    label[1, :5] = (10, 20, 30)  # just above the limit
    with pytest.raises(ValueError, match=r'few.png: 15 of 10000 pixels'):
        decode_isprs_label(encode(label, '.png'), 'few.png')


def test_vaihingen_reads_top_folder_and_eroded_labels(tmp_path):
    isprs = load_tool('dataset_converters/isprs.py')
    src = tmp_path / 'vaihingen'
    image1, label1, index1 = isprs_tile(24, 40, 1)
    image2, label2, index2 = isprs_tile(20, 20, 2)
    gray2 = image2[..., 0]
    decoy = np.full_like(label1, 255)  # full labels under another folder
    write_zip(
        src / 'ISPRS_semantic_labeling_Vaihingen.zip', {
            'top/top_mosaic_09cm_area1.tif': encode(image1),
            'top/top_mosaic_09cm_area2.tif': encode(gray2),
            'gts_for_participants/top_mosaic_09cm_area1.tif': encode(decoy),
            'dsm/dsm_09cm_matching_area1.tif': encode(gray2),
        })
    write_zip(
        src / 'ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_'
        'COMPLETE.zip', {
            'top_mosaic_09cm_area1_noBoundary.tif': encode(label1),
            'top_mosaic_09cm_area2_noBoundary.tif': encode(label2),
        })
    out = str(tmp_path / 'out')
    counts = isprs.convert('vaihingen', str(src), out, 16, 16)
    assert counts == dict(train=2 * 3, val=2 * 2)
    name = 'area1_24_8_40_24.png'
    np.testing.assert_array_equal(
        read_png(osp.join(out, 'ann_dir', 'train', name)), index1[8:24, 24:40])
    np.testing.assert_array_equal(
        read_png(osp.join(out, 'img_dir', 'train', name))[..., ::-1],
        image1[8:24, 24:40])
    # The grayscale area-2 tile is written as 3 equal channels.
    patch = read_png(osp.join(out, 'img_dir', 'val', 'area2_0_0_16_16.png'))
    assert patch.shape == (16, 16, 3)
    np.testing.assert_array_equal(patch[..., 1], gray2[:16, :16])

    # The dataset class reads it: boundary -> 255, classes 1..6 -> 0..5.
    pytest.importorskip('mmseg')
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=True),
        dict(type='PackSegInputs')
    ]
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(
            dict(
                type='sparse_backbones.ISPRSVaihingenDataset',
                data_root=out,
                data_prefix=dict(
                    img_path='img_dir/train', seg_map_path='ann_dir/train'),
                pipeline=pipeline))
        assert len(dataset) == 6
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            if info['img_path'].endswith(name):
                seg = dataset[i]['data_samples'].gt_sem_seg.data[0].numpy()
        expected = index1[8:24, 24:40].astype(np.int64) - 1
        expected[expected < 0] = 255
        np.testing.assert_array_equal(seg, expected)


def test_isprs_bad_input_names_what_is_expected(tmp_path):
    isprs = load_tool('dataset_converters/isprs.py')
    src = tmp_path / 'potsdam'
    potsdam_source(src)
    os.remove(src / '5_Labels_all_noBoundary.zip')
    with pytest.raises(
            FileNotFoundError,
            match=r'5_Labels_all_noBoundary.zip not found.*'
            r"2_Ortho_RGB.zip"):
        isprs.convert('potsdam', str(src), str(tmp_path / 'out'))
    with pytest.raises(ValueError, match='inside the source folder'):
        isprs.convert('potsdam', str(src), str(src / 'out'))
    with pytest.raises(FileNotFoundError, match='ISPRS_semantic_labeling'):
        isprs.convert('vaihingen', str(tmp_path / 'none'),
                      str(tmp_path / 'out'))

    # Image and label of different sizes, an IRRG archive by mistake.
    src2 = tmp_path / 'p2'
    potsdam_source(src2)
    _, label, _ = isprs_tile(8, 8, 0)
    write_zip(
        src2 / '5_Labels_all_noBoundary.zip', {
            'top_potsdam_2_10_label_noBoundary.tif': encode(label),
            'top_potsdam_5_15_label_noBoundary.tif': encode(label)
        })
    with pytest.raises(ValueError, match='must match'):
        isprs.convert('potsdam', str(src2), str(tmp_path / 'out2'), 16, 16)
    write_zip(src2 / '2_Ortho_RGB.zip',
              {'3_Ortho_IRRG/top_potsdam_2_10_IRRG.tif': encode(label)})
    with pytest.raises(ValueError, match='right archive'):
        isprs.convert('potsdam', str(src2), str(tmp_path / 'out3'))


def mmseg_converter_windows(h, w, clip, stride):
    """The window arithmetic of mmseg's potsdam/vaihingen converters,
    written out independently: grid origins at multiples of ``clip``,
    shifted back inside the image."""

    def count(size):
        n = math.ceil((size - clip) / stride)
        return n if n * stride + clip >= size else n + 1

    boxes = set()
    for row in range(count(h) + 1):
        for col in range(count(w) + 1):
            x, y = col * clip, row * clip
            x0 = x + (w - x - clip if x + clip > w else 0)
            y0 = y + (h - y - clip if y + clip > h else 0)
            boxes.add((x0, y0, min(x + clip, w), min(y + clip, h)))
    return boxes


@pytest.mark.parametrize('h,w', [(6000, 6000), (2557, 1887), (1024, 1536),
                                 (513, 700)])
def test_clip_windows_match_mmseg_converter(h, w):
    windows = clip_windows(h, w, 512, 512)
    assert set(windows) == mmseg_converter_windows(h, w, 512, 256)
    assert len(windows) == len(set(windows))
    if (h, w) == (6000, 6000):
        assert len(windows) == 144  # 24 x 144 = 3456 train patches


def test_clip_windows_with_real_overlap_cover_every_pixel():
    windows = clip_windows(1000, 1300, 512, 256)
    cover = np.zeros((1000, 1300), bool)
    for x0, y0, x1, y1 in windows:
        assert (x1 - x0, y1 - y0) == (512, 512)
        cover[y0:y1, x0:x1] = True
    assert cover.all()
    with pytest.raises(ValueError, match='stride'):
        clip_windows(100, 100, 16, 32)


# ------------------------------------------------------------------- iSAID --
def colour_code(class_name):
    r, g, b = ISAID_PALETTE_RGB[ISAID_CLASSES.index(class_name)]
    return r, g, b


def paint(masks, box, class_name, instance_id):
    """Paint one rectangular instance into the (colour, id) RGB masks."""
    colour, ids = masks
    x0, y0, x1, y1 = box
    colour[y0:y1, x0:x1] = colour_code(class_name)
    # id = R + 256 G + 65536 B
    ids[y0:y1, x0:x1] = (instance_id % 256, instance_id // 256 % 256,
                         instance_id // 65536)


def write_isaid_image(folder, stem, height, width, objects):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(len(stem) + height)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    masks = (np.zeros((height, width, 3),
                      np.uint8), np.zeros((height, width, 3), np.uint8))
    for box, class_name, instance_id in objects:
        paint(masks, box, class_name, instance_id)
    for suffix, array in (('', image), ('_instance_color_RGB', masks[0]),
                          ('_instance_id_RGB', masks[1])):
        with open(osp.join(folder, f'{stem}{suffix}.png'), 'wb') as f:
            f.write(encode(array, '.png'))
    return image


def devkit_windows(h, w, size=800, overlap=200):
    """The devkit's split.py loop, written out independently."""
    if not (h > size and w > size):
        return [(0, 0, w, h)]
    seen = []
    for x in range(0, w, size - overlap):
        for y in range(0, h, size - overlap):
            x1, y1 = min(x + size, w), min(y + size, h)
            box = (x1 - size, y1 - size, x1, y1)
            if box not in seen:
                seen.append(box)
    return seen


@pytest.mark.parametrize('h,w', [(900, 1000), (4000, 4000), (801, 2000),
                                 (800, 3000), (500, 600)])
def test_isaid_windows_match_devkit(h, w):
    isaid = load_tool('dataset_converters/isaid.py')
    assert isaid.patch_windows(h, w) == devkit_windows(h, w)


def test_isaid_unknown_instance_colours_are_counted_and_refused(tmp_path):
    """An instance whose class colour is no iSAID class is dropped: counted
    and named per image, and the image refused unless the flag is given."""
    isaid = load_tool('dataset_converters/isaid.py')
    src = tmp_path / 'iSAID'
    train = src / 'train' / 'images'
    write_isaid_image(train, 'P0004', 300, 400, [
        ((10, 10, 40, 30), 'ship', 1000),
        ((100, 100, 140, 130), 'plane', 1001),
    ])
    # Re-colour the plane with a colour of no class, as lossy re-encoding
    # or an edited mask would.
    color_path = train / 'P0004_instance_color_RGB.png'
    colour = cv2.imread(str(color_path))
    colour[100:130, 100:140] = (7, 8, 9)  # BGR
    cv2.imwrite(str(color_path), colour)
    out = str(tmp_path / 'out')
    with pytest.raises(ValueError) as error:
        isaid.convert_split(str(src), out, 'train')
    message = str(error.value)
    assert 'P0004_instance_color_RGB.png: 1 of 2 instances' in message
    assert '(9, 8, 7): 1' in message  # RGB
    assert '--accept-unknown-colours' in message
    assert not osp.exists(osp.join(out, 'train',
                                   'instancesonly_filtered_train.json'))

    counts = isaid.convert_split(
        str(src), out, 'train', accept_unknown_colours=True)
    assert counts['unknown_colour'] == 1 and counts['dropped'] == 1
    assert counts['annotations'] == 1


def test_isaid_patches_and_json(tmp_path):
    isaid = load_tool('dataset_converters/isaid.py')
    src = tmp_path / 'iSAID'
    train = src / 'train' / 'images'
    image = write_isaid_image(
        train,
        'P0002',
        900,
        1000,
        [
            ((100, 50, 150, 90), 'ship', 1000),
            ((820, 700, 900, 760), 'storage_tank', 1001),
            ((400, 300, 460, 340), 'plane', 70000),
            ((10, 10, 11, 11), 'Harbor', 1002),  # one pixel: dropped
            ((30, 500, 60, 520), 'ship', 999),  # id < 1000: background
        ])
    write_isaid_image(train, 'P0010', 300, 400,
                      [((5, 5, 25, 15), 'Small_Vehicle', 1003)])
    write_isaid_image(train, 'P1527', 300, 300, [])  # skipped by the devkit
    write_isaid_image(src / 'val' / 'images', 'P0003', 200, 200,
                      [((0, 0, 20, 20), 'Helicopter', 5000)])
    before = snapshot(src)
    out = str(tmp_path / 'data' / 'iSAID')
    assert isaid.main([str(src), '--out-dir', out]) == 0
    assert snapshot(src) == before

    names = sorted(os.listdir(osp.join(out, 'train', 'images')))
    assert names == sorted([
        'P0002_0_800_0_800.png', 'P0002_100_900_0_800.png',
        'P0002_0_800_200_1000.png', 'P0002_100_900_200_1000.png', 'P0010.png'
    ])
    patch = read_png(
        osp.join(out, 'train', 'images', 'P0002_100_900_200_1000.png'))
    np.testing.assert_array_equal(patch[..., ::-1], image[100:900, 200:1000])

    with open(osp.join(out, 'train', 'instancesonly_filtered_train.json')) \
            as f:
        coco = json.load(f)
    assert coco['categories'][0] == dict(id=0, name='background')
    assert [c['name'] for c in coco['categories'][1:]] == list(ISAID_CLASSES)
    assert [c['id'] for c in coco['categories'][1:]] == list(range(1, 16))
    files = {i['id']: i['file_name'] for i in coco['images']}
    assert min(files) == 1
    by_file = {}
    for ann in coco['annotations']:
        by_file.setdefault(files[ann['image_id']], []).append(ann)
    assert min(a['id'] for a in coco['annotations']) == 1
    ship, = [
        a for a in by_file['P0002_0_800_0_800.png'] if a['category_id'] == 1
    ]
    assert ship['bbox'] == [100, 50, 50, 40] and ship['area'] == 2000
    assert ship['iscrowd'] == 0
    # The plane lies in all four windows, with patch-relative boxes.
    planes = {
        f: a['bbox']
        for f, anns in by_file.items()
        for a in anns if a['category_id'] == ISAID_CLASSES.index('plane') + 1
    }
    assert planes == {
        'P0002_0_800_0_800.png': [400, 300, 60, 40],
        'P0002_100_900_0_800.png': [400, 200, 60, 40],
        'P0002_0_800_200_1000.png': [200, 300, 60, 40],
        'P0002_100_900_200_1000.png': [200, 200, 60, 40],
    }
    tank, = [
        a for a in by_file['P0002_100_900_200_1000.png']
        if a['category_id'] == 2
    ]
    assert tank['bbox'] == [620, 600, 80, 60]
    # polygon = the outer contour of the mask, in patch coordinates
    xs, ys = tank['segmentation'][0][0::2], tank['segmentation'][0][1::2]
    assert (min(xs), min(ys), max(xs), max(ys)) == (620, 600, 699, 659)
    harbor = ISAID_CLASSES.index('Harbor') + 1
    assert not any(a['category_id'] == harbor for a in coco['annotations'])
    assert sum(a['category_id'] == 1 for a in coco['annotations']) == 1
    vehicle, = by_file['P0010.png']
    assert vehicle['bbox'] == [5, 5, 20, 10]

    # mmdet reads it with the 15 classes in devkit order.
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(
            dict(
                type='sparse_backbones.ISAIDDataset',
                data_root=out,
                ann_file='train/instancesonly_filtered_train.json',
                data_prefix=dict(img='train/images/'),
                test_mode=True))
        labels = {
            osp.basename(dataset.get_data_info(i)['img_path']):
            sorted(inst['bbox_label']
                   for inst in dataset.get_data_info(i)['instances'])
            for i in range(len(dataset))
        }
    assert labels['P0002_0_800_0_800.png'] == [0, 13]  # ship, plane
    assert labels['P0010.png'] == [ISAID_CLASSES.index('Small_Vehicle')]

    # Rerun: same json and patches.
    first = tree(out)
    isaid.main([str(src), '--out-dir', out])
    assert tree(out) == first


def test_isaid_bad_input(tmp_path):
    isaid = load_tool('dataset_converters/isaid.py')
    src = tmp_path / 'iSAID'
    folder = src / 'train' / 'images'
    write_isaid_image(folder, 'P0002', 100, 100, [])
    os.remove(folder / 'P0002_instance_id_RGB.png')
    with pytest.raises(FileNotFoundError, match='P0002_instance_id_RGB.png'):
        isaid.main([
            str(src), '--out-dir',
            str(tmp_path / 'out'), '--splits', 'train'
        ])
    with pytest.raises(FileNotFoundError, match=r'val/images/P0002.png'):
        isaid.main(
            [str(src), '--out-dir',
             str(tmp_path / 'out'), '--splits', 'val'])
    with pytest.raises(ValueError, match='inside the source folder'):
        isaid.main([str(src), '--out-dir', str(src / 'patches')])


def naive_instances(ids, colors, class_of_code):
    """One full-patch mask per instance id, as the devkit computes them."""
    annotations, dropped = [], 0
    for code in np.unique(ids):
        if code < 1000:
            continue
        mask = ids == code
        values, counts = np.unique(colors[mask], return_counts=True)
        class_index = class_of_code.get(int(values[np.argmax(counts)]))
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        polygons = [c.reshape(-1).tolist() for c in contours]
        if class_index is None or min(len(p) for p in polygons) <= 4:
            dropped += 1
            continue
        ys, xs = np.nonzero(mask)
        annotations.append(
            dict(
                category_id=class_index + 1,
                segmentation=polygons,
                area=int(mask.sum()),
                bbox=[
                    int(xs.min()),
                    int(ys.min()),
                    int(xs.max() - xs.min()) + 1,
                    int(ys.max() - ys.min()) + 1
                ],
                iscrowd=0))
    return annotations, dropped


def test_isaid_instances_match_full_mask_reference():
    """The bounding-box path gives the devkit's full-mask result: blobs
    touching the border, with holes, in two parts, single pixels, an
    unknown colour."""
    isaid = load_tool('dataset_converters/isaid.py')
    rng = np.random.default_rng(3)
    size = 120
    ids = np.zeros((size, size), np.int64)
    colors = np.zeros((size, size), np.int64)
    codes = list(isaid._CLASS_OF_CODE)
    for k in range(60):
        x, y = rng.integers(-10, size, 2)
        w, h = rng.integers(1, 25, 2)
        ids[max(y, 0):y + h, max(x, 0):x + w] = 1000 + k
        colors[max(y, 0):y + h, max(x, 0):x + w] = codes[k % len(codes)]
    ids[50:60, 50:60] = 5000  # a hole ...
    ids[53:56, 53:56] = 0
    ids[100:104, 0:4] = 5000  # ... and a second part
    colors[ids == 5000] = codes[1]
    ids[0, 0] = 6000  # one pixel: dropped
    ids[110:115, 110:115] = 7000
    colors[110:115, 110:115] = 12345  # unknown colour: dropped
    fast = isaid.instances_in_patch(ids, colors)
    reference = naive_instances(ids, colors, isaid._CLASS_OF_CODE)
    assert fast == reference
    assert fast[1] >= 2 and len(fast[0]) > 30
