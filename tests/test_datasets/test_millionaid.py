# Copyright (c) sparse_backbones contributors. All rights reserved.
"""MillionAID: the class constants, tools/dataset_converters/millionaid.py
on a small tree in the released layout, and MillionAIDDataset reading the
lists it writes."""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from sparse_backbones.datasets import (MILLIONAID_CLASSES,
                                       MILLIONAID_HIERARCHY,
                                       scan_millionaid_tree,
                                       write_millionaid_demo_tree)

from tests import REPO_ROOT, load_tool

# The 51 leaf folder names as torchgeo lists them (datasets/millionaid.py,
# multi_class_categories, with its 'bapsketball_court' spelt as the folder).
TORCHGEO_LEAVES = {
    'apartment', 'apron', 'bare_land', 'baseball_field', 'basketball_court',
    'beach', 'bridge', 'cemetery', 'church', 'commercial_area', 'dam',
    'desert', 'detached_house', 'dry_field', 'forest', 'golf_course',
    'greenhouse', 'ground_track_field', 'helipad', 'ice_land', 'intersection',
    'island', 'lake', 'meadow', 'mine', 'mobile_home_park', 'oil_field',
    'orchard', 'paddy_field', 'parking_lot', 'pier', 'quarry', 'railway',
    'river', 'road', 'rock_land', 'roundabout', 'runway', 'solar_power_plant',
    'sparse_shrub_land', 'stadium', 'storage_tank', 'substation',
    'swimming_pool', 'tennis_court', 'terraced_field', 'train_station',
    'viaduct', 'wastewater_plant', 'wind_turbine', 'works'
}
# The official challenge indices that were retrieved (CodaLab 35945).
CODALAB_FIRST = ('dry_field', 'greenhouse', 'paddy_field', 'terraced_field',
                 'meadow', 'forest', 'orchard', 'commercial_area')
PER_CLASS = 3
EXTRA = 10  # dry_field gets this many images in all


def snapshot(root) -> dict:
    """Relative path -> (mtime, bytes) of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = (os.stat(path).st_mtime_ns,
                                                  f.read())
    return files


def read_list(path) -> list:
    with open(path) as f:
        return [(p, int(label))
                for p, label in (line.rsplit(' ', 1)
                                 for line in f.read().splitlines())]


def leaf_of(rel_path: str) -> str:
    return rel_path.split('/')[-2]


@pytest.fixture
def released(tmp_path) -> str:
    """An unpacked archive: MillionAID/train/<level-1>/[<level-2>/]<leaf>/,
    3 images per leaf class, 10 in dry_field."""
    train = osp.join(tmp_path, 'MillionAID', 'train')
    write_millionaid_demo_tree(train, PER_CLASS, np.random.default_rng(0))
    folder = osp.join(train, 'agriculture_land', 'arable_land', 'dry_field')
    for i in range(EXTRA - PER_CLASS):
        cv2.imwrite(
            osp.join(folder, f'P99{i:05d}.jpg'),
            np.full((16, 24, 3), 7 * i, np.uint8))
    return osp.join(tmp_path, 'MillionAID')


@pytest.fixture
def tool():
    return load_tool('dataset_converters/millionaid.py')


# -------------------------------------------------------------- constants --
def test_class_constants_follow_the_released_tree():
    leaves = [
        leaf for level1 in sorted(MILLIONAID_HIERARCHY)
        for level2 in sorted(MILLIONAID_HIERARCHY[level1])
        for leaf in sorted(MILLIONAID_HIERARCHY[level1][level2])
    ]
    # label order = the sorted walk of the tree, not alphabetical
    assert list(MILLIONAID_CLASSES) == leaves
    assert MILLIONAID_CLASSES[:8] == CODALAB_FIRST
    assert set(MILLIONAID_CLASSES) == TORCHGEO_LEAVES
    assert len(MILLIONAID_CLASSES) == 51
    assert len(MILLIONAID_HIERARCHY) == 8
    level2 = [g for groups in MILLIONAID_HIERARCHY.values() for g in groups]
    assert len(level2) == len(set(level2)) == 28
    # torchgeo's 73 multi-label names: level-1, level-2 and leaf names
    assert len(
        set(MILLIONAID_HIERARCHY) | set(level2)
        | set(MILLIONAID_CLASSES)) == 73
    # torchgeo's test tree: a level-2 folder and a leaf under level-1
    assert 'meadow' in MILLIONAID_HIERARCHY['agriculture_land']['grassland']
    assert MILLIONAID_HIERARCHY['water_area']['beach'] == ('beach', )


def test_demo_tree_is_in_the_released_layout(tmp_path):
    root = write_millionaid_demo_tree(
        str(tmp_path),
        2,
        np.random.default_rng(1),
        classes=('meadow', 'beach'))
    assert sorted(
        osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root)
        for f in fs) == [
            'agriculture_land/grassland/meadow/P0000000.jpg',
            'agriculture_land/grassland/meadow/P0000001.jpg',
            'water_area/beach/P0000002.jpg', 'water_area/beach/P0000003.jpg'
        ]
    image = cv2.imread(osp.join(root, 'water_area/beach/P0000002.jpg'))
    assert image.shape == (32, 32, 3)
    tree = scan_millionaid_tree(root)
    assert sorted(tree.images) == ['beach', 'meadow'] and not tree.mismatches


# ------------------------------------------------------------------- tool --
def test_tool_writes_the_rsp_protocol_split(released, tool, tmp_path, capsys):
    before = snapshot(released)
    out = str(tmp_path / 'data' / 'millionaid')
    argv = [released, '--out-dir', out, '--val-per-class', '1']
    assert tool.main(argv) == 0
    assert 'read by configs/_base_/datasets/millionaid_rand-aug_224.py' in \
        capsys.readouterr().out
    train = read_list(osp.join(out, 'meta', 'train.txt'))
    val = read_list(osp.join(out, 'meta', 'val.txt'))

    # Every image once, labelled by its leaf folder.
    images = sorted(
        osp.relpath(osp.join(d, f), osp.join(released, 'train')).replace(
            os.sep, '/') for d, _, fs in os.walk(released) for f in fs)
    listed = [p for p, _ in train + val]
    assert sorted(listed) == images
    assert len(images) == 51 * PER_CLASS + EXTRA - PER_CLASS
    assert all(label == MILLIONAID_CLASSES.index(leaf_of(p))
               for p, label in train + val)
    # One validation image per class, the rest for training.
    assert sorted(leaf_of(p) for p, _ in val) == sorted(MILLIONAID_CLASSES)
    assert sum(leaf_of(p) == 'dry_field' for p, _ in train) == EXTRA - 1
    # The link makes the listed paths resolve; the source is untouched.
    assert osp.realpath(osp.join(out, 'images')) == osp.realpath(
        osp.join(released, 'train'))
    assert all(osp.isfile(osp.join(out, 'images', p)) for p in listed)
    assert snapshot(released) == before

    # Existing lists are kept unless --overwrite; a rerun writes the same
    # bytes; another seed draws other validation images.
    first = snapshot(osp.join(out, 'meta'))
    assert tool.main(argv) == 2
    assert '--overwrite' in capsys.readouterr().err
    assert snapshot(osp.join(out, 'meta')) == first
    assert tool.main(argv + ['--overwrite']) == 0
    assert {k: v[1] for k, v in snapshot(osp.join(out, 'meta')).items()} == \
        {k: v[1] for k, v in first.items()}
    assert tool.main(argv + ['--overwrite', '--seed', '1']) == 0
    assert read_list(osp.join(out, 'meta', 'val.txt')) != val
    assert snapshot(released) == before


def test_tool_percentage_split_and_the_default_protocol(
        released, tool, tmp_path, capsys):
    out = str(tmp_path / 'out')
    # 1,000 per class (RSP) does not fit the public-sized tree: refused,
    # nothing written, the message names the way out.
    assert tool.main([released, '--out-dir', out]) == 2
    err = capsys.readouterr().err
    assert '51 class(es) are too small' in err and '--val-percent' in err
    assert not osp.exists(out)

    assert tool.main([released, '--out-dir', out, '--val-percent', '30']) == 0
    val = read_list(osp.join(out, 'meta', 'val.txt'))
    held = {
        leaf: sum(leaf_of(p) == leaf for p, _ in val)
        for leaf in MILLIONAID_CLASSES
    }
    # round(10 * 0.3) = 3 of dry_field, round(3 * 0.3) = 1 of the others
    assert held.pop('dry_field') == 3 and set(held.values()) == {1}
    with pytest.raises(SystemExit) as exc:
        tool.parse_args(
            [released, '--val-percent', '5', '--val-per-class', '2'])
    assert exc.value.code == 2


def _move(root, src, dst):
    os.makedirs(osp.dirname(osp.join(root, dst)), exist_ok=True)
    shutil.move(osp.join(root, src), osp.join(root, dst))


@pytest.mark.parametrize('case,words', [
    ('unknown_leaf',
     ("rice_field' is not a MillionAID class folder", 'dry_field')),
    ('unknown_level1',
     ("foo_land' is not a MillionAID class folder", 'agriculture_land')),
    ('image_in_level2',
     ('1 image(s) lie outside the leaf class folders', "'stray.jpg'")),
    ('image_at_root', ('outside the leaf class folders', )),
    ('empty', ('is empty', 'captain-whu')),
    ('missing', ('MillionAID folder not found', 'captain-whu')),
    ('out_inside_src', ('inside the source folder', )),
    ('duplicate_leaf', ("Leaf class 'lake' appears twice", )),
    ('folder_in_leaf', ('inside the leaf class folder dry_field/', )),
])
def test_tool_bad_trees(released, tool, tmp_path, capsys, case, words):
    train = osp.join(released, 'train')
    out = str(tmp_path / 'out')
    src = released
    if case == 'unknown_leaf':
        os.makedirs(
            osp.join(train, 'agriculture_land', 'arable_land', 'rice_field'))
    elif case == 'unknown_level1':
        os.makedirs(osp.join(train, 'foo_land', 'x'))
    elif case == 'image_in_level2':
        shutil.copy(
            osp.join(train, 'water_area', 'beach',
                     os.listdir(osp.join(train, 'water_area', 'beach'))[0]),
            osp.join(train, 'industrial_land', 'mining_area', 'stray.jpg'))
    elif case == 'image_at_root':
        cv2.imwrite(osp.join(train, 'loose.jpg'), np.zeros((4, 4, 3)))
    elif case == 'empty':
        src = str(tmp_path / 'empty')
        os.makedirs(src)
    elif case == 'missing':
        src = str(tmp_path / 'nowhere')
    elif case == 'out_inside_src':
        out = osp.join(released, 'lists')
    elif case == 'folder_in_leaf':
        os.makedirs(
            osp.join(train, 'agriculture_land', 'arable_land', 'dry_field',
                     'thumbs'))
    elif case == 'duplicate_leaf':
        shutil.copytree(
            osp.join(train, 'water_area', 'lake'),
            osp.join(train, 'unutilized_land', 'lake'))
    before = snapshot(tmp_path)
    assert tool.main([src, '--out-dir', out, '--val-per-class', '1']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ')
    for word in words:
        assert word in err
    assert snapshot(tmp_path) == before  # nothing written anywhere


def test_other_parents_are_warned_about_and_labels_kept(
        released, tool, tmp_path):
    """MILLIONAID_HIERARCHY is partly reconstructed: a tree that hangs a
    leaf elsewhere is read (labels follow the leaf names) with a warning
    that names the folder."""
    train = osp.join(released, 'train')
    _move(train, 'agriculture_land/grassland/meadow',
          'agriculture_land/woodland/meadow')
    out = str(tmp_path / 'out')
    with pytest.warns(
            UserWarning,
            match='woodland/meadow: MILLIONAID_HIERARCHY has '
            'meadow under agriculture_land/grassland'):
        assert tool.main([released, '--out-dir', out, '--val-per-class',
                          '1']) == 0
    listed = read_list(osp.join(out, 'meta', 'train.txt'))
    meadow = [label for p, label in listed if leaf_of(p) == 'meadow']
    assert meadow == [MILLIONAID_CLASSES.index('meadow')] * (PER_CLASS - 1)


def test_scan_reads_a_leaf_inside_a_same_named_folder(tmp_path):
    """torchgeo reads both depths; a leaf that is its own level-2 node may
    also come as two folders (water_area/beach/beach/)."""
    root = write_millionaid_demo_tree(
        str(tmp_path), 2, np.random.default_rng(2), classes=('beach', ))
    _move(root, 'water_area/beach', 'water_area/tmp/beach')
    _move(root, 'water_area/tmp', 'water_area/beach')
    tree = scan_millionaid_tree(root)
    assert tree.images == {
        'beach': [
            'water_area/beach/beach/P0000000.jpg',
            'water_area/beach/beach/P0000001.jpg'
        ]
    }
    assert not tree.mismatches


# ---------------------------------------------------------------- dataset --
@pytest.fixture
def datasets():
    pytest.importorskip('mmpretrain')
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    import sparse_backbones  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield DATASETS


@pytest.fixture
def prepared(released, tool, tmp_path) -> str:
    out = str(tmp_path / 'data' / 'millionaid')
    assert tool.main([released, '--out-dir', out, '--val-per-class', '1']) == 0
    return out


PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def test_dataset_reads_the_lists(prepared, datasets):
    train = datasets.build(
        dict(
            type='sparse_backbones.MillionAIDDataset',
            data_root=prepared,
            data_prefix='images',
            ann_file='meta/train.txt',
            pipeline=PIPELINE))
    lines = read_list(osp.join(prepared, 'meta', 'train.txt'))
    assert len(train) == len(lines) == 50 * (PER_CLASS - 1) + EXTRA - 1
    assert train.metainfo['classes'] == MILLIONAID_CLASSES
    for i in (0, len(train) - 1):
        info = train.get_data_info(i)
        assert info['img_path'] == osp.join(prepared, 'images', lines[i][0])
        assert info['gt_label'] == lines[i][1]
        sample = train[i]
        assert tuple(sample['inputs'].shape) == (3, 32, 32)
        assert sample['data_samples'].gt_label.item() == lines[i][1]
    # Without a list, the whole tree, labelled by the leaf folders.
    whole = datasets.build(
        dict(
            type='sparse_backbones.MillionAIDDataset',
            data_root=prepared,
            data_prefix='images',
            pipeline=PIPELINE))
    assert len(whole) == 51 * PER_CLASS + EXTRA - PER_CLASS
    assert {
        MILLIONAID_CLASSES[whole.get_data_info(i)['gt_label']]
        for i in range(len(whole))
    } == set(MILLIONAID_CLASSES)


def test_config_reads_what_the_tool_writes(prepared, datasets):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'datasets',
                 'millionaid_rand-aug_224.py'))
    sizes = {}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset_cfg = cfg[key].dataset
        dataset_cfg.data_root = prepared
        dataset = datasets.build(dataset_cfg)
        sizes[key] = len(dataset)
        assert dataset[0]['inputs'].shape[-2:] == (224, 224)
    assert cfg.data_preprocessor.num_classes == 51
    assert sizes == dict(
        train_dataloader=50 * (PER_CLASS - 1) + EXTRA - 1,
        val_dataloader=51,
        test_dataloader=51)


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def test_dataset_messages(prepared, datasets, tmp_path):
    cfg = dict(
        type='sparse_backbones.MillionAIDDataset',
        data_root=prepared,
        data_prefix='images',
        pipeline=PIPELINE)
    command = 'tools/dataset_converters/millionaid.py'
    with pytest.raises(
            FileNotFoundError,
            match=f'MillionAID image folder not found(.|\n)*'
            f'{command}'):
        datasets.build(dict(cfg, data_root=str(tmp_path / 'nowhere')))
    with pytest.raises(
            FileNotFoundError,
            match=f'MillionAID list file not found(.|\n)*'
            f'{command}'):
        datasets.build(dict(cfg, ann_file='meta/missing.txt'))

    first, label = read_list(osp.join(prepared, 'meta', 'val.txt'))[0]
    assert leaf_of(first) == 'dry_field' and label == 0
    cases = [
        (f'{first} 6\n', ValueError,
         r'bad.txt:1: label 6 \(orchard\) for an image in dry_field/, which '
         r'is label 0(.|\n)*another class order'),
        (f'{first} 0\n{first} 51\n', ValueError,
         r'bad.txt:2: label 51 is outside 0..50'),
        (f'{first}\n', ValueError, r"bad.txt:1: expected '<relative path> "
         r"<label>'"),
        (f'{first} 0\nwater_area/beach/P7777777.jpg 47\n', FileNotFoundError,
         r'1 image\(s\) listed in(.|\n)*bad.txt:2: .*P7777777.jpg'),
        ('\n', ValueError, 'lists no image'),
    ]
    bad = osp.join(prepared, 'meta', 'bad.txt')
    for text, error, pattern in cases:
        _write(bad, text)
        with pytest.raises(error, match=pattern):
            datasets.build(dict(cfg, ann_file='meta/bad.txt'))
