# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The MillionAID folder tree and its train/val split files.

MillionAID's labelled images come as one folder per leaf class inside its
level-1 (and level-2) folders::

    agriculture_land/arable_land/dry_field/P0960374.jpg
    water_area/beach/P0060208.jpg

:func:`scan_millionaid_tree` reads such a tree and checks it against
:data:`~.classes.MILLIONAID_HIERARCHY`; :func:`make_millionaid_split` holds
out a seeded random share of each leaf class for validation and writes
``meta/train.txt`` and ``meta/val.txt`` with lines
``agriculture_land/arable_land/dry_field/P0960374.jpg 0`` (the label is the
leaf's index in :data:`~.classes.MILLIONAID_CLASSES`). By default it is
the split of RSP and LeMeViT: 1,000 images of each class for validation,
the rest for training (the facts and their sources are in
:mod:`sparse_backbones.datasets.millionaid`). Their lists were never
published, so the same protocol drawn with our seed gives other images.
:func:`write_millionaid_demo_tree` writes a small synthetic tree in the
released layout. No host library is needed.
"""
import os
import os.path as osp
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .classes import MILLIONAID_CLASSES, MILLIONAID_HIERARCHY

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')
# RSP / LeMeViT: 1,000 validation images per class (51,000 in all).
RSP_VAL_PER_CLASS = 1000
DOWNLOAD = ('download the MillionAID train archive (captain-whu.github.io/'
            'DiRS) and unpack it so that agriculture_land/arable_land/'
            'dry_field/*.jpg exists under one folder')
SPLIT_FILES = ('meta/train.txt', 'meta/val.txt')

# leaf -> (level-1, level-2) and level-2 -> level-1, from the hierarchy.
_LEAF_PARENTS = {
    leaf: (level1, level2)
    for level1, groups in MILLIONAID_HIERARCHY.items()
    for level2, leaves in groups.items()
    for leaf in leaves
}
_GROUPS = {
    level2: level1
    for level1, groups in MILLIONAID_HIERARCHY.items()
    for level2, leaves in groups.items() if leaves != (level2, )
}


class MillionAIDTree(NamedTuple):
    """What :func:`scan_millionaid_tree` found.

    Attributes:
        root (str): The folder holding the level-1 folders.
        images (dict[str, list[str]]): Leaf class -> sorted image paths
            relative to ``root`` ('/'-separated), for the leaves present.
        mismatches (list[str]): Folders whose parents differ from
            :data:`~.classes.MILLIONAID_HIERARCHY` (labels still follow the
            leaf names).
    """
    root: str
    images: Dict[str, List[str]]
    mismatches: List[str]


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _entries(folder: str) -> Tuple[List[str], List[str]]:
    """(sub-folders, image files) of ``folder``, sorted, hidden ones
    skipped; other files (a README) are ignored."""
    folders, images = [], []
    for name in sorted(os.listdir(folder)):
        if name.startswith('.'):
            continue
        if osp.isdir(osp.join(folder, name)):
            folders.append(name)
        elif _is_image(name):
            images.append(name)
    return folders, images


def find_millionaid_root(src: str) -> str:
    """Return the folder under ``src`` that holds the level-1 folders.

    Accepts that folder itself, the folder holding ``train/`` (the
    archive's top level, as torchgeo lays it out) or one wrapper folder on
    the way.

    Args:
        src (str): The folder the user passed.

    Returns:
        str: The level-1 root (checked later by the scan).
    """
    if not osp.isdir(src):
        raise FileNotFoundError(
            f'MillionAID folder not found: {src!r}. To fix: {DOWNLOAD}.')
    root = src
    for _ in range(3):
        folders, _ = _entries(root)
        if any(f in MILLIONAID_HIERARCHY for f in folders):
            return root
        if 'train' in folders:
            root = osp.join(root, 'train')
        elif len(folders) == 1:
            root = osp.join(root, folders[0])
        else:
            break
    return src  # the scan says what is wrong with it


def _unknown(path: str, expected: Sequence[str]) -> ValueError:
    return ValueError(
        f'{path!r} is not a MillionAID class folder; expected one of '
        f'{", ".join(sorted(expected))} there. Point the tool at the folder '
        'that directly holds agriculture_land/, commercial_land/, ... (the '
        'unpacked train archive), or move foreign folders out of it.')


def _outside(folder: str, images: Sequence[str]) -> ValueError:
    return ValueError(
        f'{len(images)} image(s) lie outside the leaf class folders, in '
        f'{folder!r} (e.g. {images[0]!r}); their class is unknown. MillionAID '
        'keeps every image in a leaf folder such as agriculture_land/'
        'arable_land/dry_field/. Move them there or out of the tree.')


def scan_millionaid_tree(src: str) -> MillionAIDTree:
    """Find every image of a MillionAID tree and its leaf class.

    A level-1 folder holds level-2 folders and leaf folders (a level-2
    node whose only leaf has its own name is one folder); a level-2 folder
    holds leaf folders; leaf folders hold the images. Anything else is an
    error, except that the parents of a known folder may differ from
    :data:`~.classes.MILLIONAID_HIERARCHY` (partly reconstructed): that is
    warned about and reported in ``mismatches``.

    Args:
        src (str): The unpacked tree (see :func:`find_millionaid_root`).

    Returns:
        MillionAIDTree: The images by leaf class and the mismatches.
    """
    root = find_millionaid_root(src)
    images: Dict[str, List[str]] = {}
    mismatches: List[str] = []
    level1_folders, loose = _entries(root)
    if loose:
        raise _outside(root, loose)
    if not level1_folders:
        raise FileNotFoundError(
            f'{root!r} holds no MillionAID folder (it is empty). To fix: '
            f'{DOWNLOAD}.')

    def add_leaf(leaf: str, rel: str, level1: str, level2: str) -> None:
        if leaf in images:
            raise ValueError(
                f'Leaf class {leaf!r} appears twice: {images[leaf][0]!r} and '
                f'{rel!r}; a leaf has one folder in MillionAID.')
        if _LEAF_PARENTS[leaf] != (level1, level2):
            mismatches.append(f'{rel}: MILLIONAID_HIERARCHY has {leaf} under '
                              f'{"/".join(_LEAF_PARENTS[leaf])}')
        files = []
        folder = osp.join(root, rel)
        stack = [rel]
        while stack:  # a leaf may sit in a same-named folder (X/X/)
            rel_dir = stack.pop()
            subs, names = _entries(osp.join(root, rel_dir))
            for sub in subs:
                if sub != leaf:
                    raise ValueError(
                        f'{osp.join(root, rel_dir, sub)!r} is a folder '
                        f'inside the leaf class folder {leaf}/; leaf '
                        'folders hold the images. Move it out of the tree.')
                stack.append(f'{rel_dir}/{sub}')
            files += [f'{rel_dir}/{name}' for name in names]
        if not files:
            warnings.warn(f'Leaf class folder {folder!r} holds no image.')
            return
        images[leaf] = sorted(files)

    for level1 in level1_folders:
        if level1 not in MILLIONAID_HIERARCHY:
            raise _unknown(osp.join(root, level1), MILLIONAID_HIERARCHY)
        subs, loose = _entries(osp.join(root, level1))
        if loose:
            raise _outside(osp.join(root, level1), loose)
        for name in subs:
            rel = f'{level1}/{name}'
            if name in _LEAF_PARENTS:
                add_leaf(name, rel, level1, name)
                continue
            if name not in _GROUPS:
                raise _unknown(
                    osp.join(root, rel), MILLIONAID_HIERARCHY[level1])
            if _GROUPS[name] != level1:
                mismatches.append(f'{rel}: MILLIONAID_HIERARCHY has {name} '
                                  f'under {_GROUPS[name]}')
            leaves, loose = _entries(osp.join(root, rel))
            if loose:
                raise _outside(osp.join(root, rel), loose)
            for leaf in leaves:
                if leaf not in _LEAF_PARENTS:
                    raise _unknown(
                        osp.join(root, rel, leaf),
                        MILLIONAID_HIERARCHY[_GROUPS[name]][name])
                add_leaf(leaf, f'{rel}/{leaf}', level1, name)
    if not images:
        raise FileNotFoundError(
            f'No image in the MillionAID folders under {root!r}. To fix: '
            f'{DOWNLOAD}.')
    if mismatches:
        warnings.warn(
            f'{len(mismatches)} folder(s) of {root!r} hang elsewhere than '
            'in MILLIONAID_HIERARCHY (partly reconstructed; please report '
            'the tree): ' + '; '.join(mismatches[:5]) +
            '. Labels follow the leaf names and are unaffected.')
    return MillionAIDTree(root, images, mismatches)


class MillionAIDSplit(NamedTuple):
    """What :func:`make_millionaid_split` wrote.

    Attributes:
        train_file (str): Path of the training list.
        val_file (str): Path of the validation list.
        num_train (dict[str, int]): Leaf class -> training images.
        num_val (dict[str, int]): Leaf class -> validation images.
    """
    train_file: str
    val_file: str
    num_train: Dict[str, int]
    num_val: Dict[str, int]


def _num_val(count: int, val_per_class: Optional[int],
             val_percent: Optional[float]) -> int:
    if val_percent is not None:
        return min(max(round(count * val_percent / 100), 1), count - 1)
    return val_per_class


def make_millionaid_split(src: str,
                          out_dir: str,
                          val_per_class: Optional[int] = RSP_VAL_PER_CLASS,
                          val_percent: Optional[float] = None,
                          seed: int = 0,
                          overwrite: bool = False) -> MillionAIDSplit:
    """Write a per-class random train/val split of a MillionAID tree.

    Within each leaf class (in label order) the sorted image paths are
    permuted with one ``numpy.random.RandomState(seed)`` shared by all
    classes, and the first ones go to validation: ``val_per_class`` of
    them (RSP's and LeMeViT's protocol: 1,000), or ``val_percent`` % (at
    least one image, and one left for training). The same tree and
    settings always give the same files. Only ``out_dir/meta`` is written.

    Args:
        src (str): The unpacked tree (see :func:`find_millionaid_root`).
        out_dir (str): Folder for ``meta/train.txt`` and ``meta/val.txt``.
        val_per_class (int, optional): Validation images per class; every
            class needs more. Defaults to 1000.
        val_percent (float, optional): Hold out this share of each class
            instead (for the 10,000-image public train archive). Defaults
            to None.
        seed (int): Random seed. Defaults to 0.
        overwrite (bool): Replace existing list files. Defaults to False.

    Returns:
        MillionAIDSplit: The files written and the counts per class.
    """
    if val_percent is not None:
        if not 0 < val_percent < 100:
            raise ValueError(
                f'val_percent must be in (0, 100), got {val_percent}')
    elif val_per_class is None or val_per_class < 1:
        raise ValueError(f'val_per_class must be >= 1, got {val_per_class}')
    paths = tuple(osp.join(out_dir, *name.split('/')) for name in SPLIT_FILES)
    existing = [p for p in paths if osp.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f'{existing[0]!r} exists. Pass --overwrite (overwrite=True) to '
            'replace the split files, or choose another --out-dir.')

    tree = scan_millionaid_tree(src)
    absent = [c for c in MILLIONAID_CLASSES if c not in tree.images]
    if absent:
        warnings.warn(f'{len(absent)} MillionAID leaf class(es) have no '
                      f'images under {tree.root!r}: {absent[:10]}. Their '
                      'labels stay unused.')
    too_small = [
        f'{leaf} ({len(files)})' for leaf, files in tree.images.items()
        if len(files) < 2 or (
            val_percent is None and len(files) <= val_per_class)
    ]
    if too_small:
        if val_percent is None:
            hint = (f'RSP\'s split holds out {val_per_class} images per '
                    'class and needs more in each; the full labelled '
                    'MillionAID has 2,000 to 45,000 per class, but its test '
                    'labels are not public and the released train archive '
                    'has 10,000 images in all. For that archive use '
                    '--val-percent (e.g. 10), or a smaller --val-per-class')
        else:
            hint = 'a split needs at least 2 images per class'
        raise ValueError(f'{len(too_small)} class(es) are too small to '
                         f'split: {", ".join(too_small[:10])}. {hint}.')

    rng = np.random.RandomState(seed)
    lines = dict(train=[], val=[])
    num_train, num_val = {}, {}
    for label, leaf in enumerate(MILLIONAID_CLASSES):
        files = tree.images.get(leaf)
        if not files:
            continue
        order = rng.permutation(len(files))
        held = set(
            order[:_num_val(len(files), val_per_class, val_percent)].tolist())
        for i, file in enumerate(files):
            lines['val' if i in held else 'train'].append(f'{file} {label}')
        num_val[leaf] = len(held)
        num_train[leaf] = len(files) - len(held)

    os.makedirs(osp.dirname(paths[0]), exist_ok=True)
    for path, key in zip(paths, ('train', 'val')):
        # Write then rename: an interrupted run leaves no half file.
        tmp = f'{path}.tmp-{os.getpid()}'
        with open(tmp, 'w') as f:
            f.write('\n'.join(lines[key]) + '\n')
        os.replace(tmp, path)
    return MillionAIDSplit(paths[0], paths[1], num_train, num_val)


def write_millionaid_demo_tree(root: str,
                               images_per_class: int,
                               rng: np.random.Generator,
                               classes: Sequence[str] = MILLIONAID_CLASSES,
                               size: int = 32) -> str:
    """Write a synthetic tree in the released MillionAID layout.

    Each leaf folder of ``classes`` gets ``images_per_class`` JPEGs named as
    MillionAID names them (``P0000000.jpg``, unique in the tree), a
    class-dependent colour plus noise so that a model can learn them.

    Args:
        root (str): Folder to hold the level-1 folders (created).
        images_per_class (int): Images per leaf class.
        rng (np.random.Generator): Source of the pixels.
        classes (Sequence[str]): Leaf classes to write. Defaults to all 51.
        size (int): Image side in pixels. Defaults to 32.

    Returns:
        str: ``root``.
    """
    index = 0
    for leaf in classes:
        level1, level2 = _LEAF_PARENTS[leaf]
        parts = (level1, leaf) if level2 == leaf else (level1, level2, leaf)
        folder = osp.join(root, *parts)
        os.makedirs(folder, exist_ok=True)
        label = MILLIONAID_CLASSES.index(leaf)
        colour = np.array([(label * 53) % 256, (label * 97) % 256,
                           (label * 151) % 256])
        for _ in range(images_per_class):
            noise = rng.integers(-40, 41, (size, size, 3))
            image = np.clip(colour + noise, 0, 255).astype(np.uint8)
            cv2.imwrite(osp.join(folder, f'P{index:07d}.jpg'), image)
            index += 1
    return root
