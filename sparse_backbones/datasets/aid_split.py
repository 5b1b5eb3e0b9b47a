# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Deterministic train/test split files for AID (no host library needed).

AID is distributed as one folder per class (``AID/Airport/airport_1.jpg``)
without official splits; papers draw a random per-class split with 20 % or
50 % training images. :func:`make_aid_split` writes such a split as two
mmpretrain ``CustomDataset`` annotation files, e.g.
``AID/splits/train_20_seed0.txt`` and ``AID/splits/test_80_seed0.txt``, with
lines ``Airport/airport_1.jpg 0``. The same root, percentage and seed always
give the same files, so a split can be versioned and shared.
"""
import os
import os.path as osp
import warnings
from typing import Sequence, Tuple

import numpy as np

from .classes import AID_CLASSES

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')


def aid_split_names(train_percent: int, seed: int) -> Tuple[str, str]:
    """Return the file names of a split, e.g. ``train_20_seed0.txt``."""
    return (f'train_{train_percent}_seed{seed}.txt',
            f'test_{100 - train_percent}_seed{seed}.txt')


def make_aid_split(data_root: str,
                   train_percent: int = 20,
                   seed: int = 0,
                   out_dir: str = 'splits',
                   classes: Sequence[str] = AID_CLASSES) -> Tuple[str, str]:
    """Write a per-class random train/test split of an AID folder tree.

    Within each class the sorted image names are permuted with one
    ``numpy.random.RandomState(seed)`` shared by all classes in class order,
    and the first ``round(n * train_percent / 100)`` (at least one image and
    at least one left for testing) go to training. Labels are the indices in
    ``classes``.

    Args:
        data_root (str): Folder holding one sub-folder per class.
        train_percent (int): Percentage of each class used for training,
            in 1..99. Defaults to 20.
        seed (int): Random seed. Defaults to 0.
        out_dir (str): Output folder, relative to ``data_root`` unless
            absolute. Defaults to 'splits'.
        classes (Sequence[str]): Class names in label order. Defaults to the
            30 AID classes.

    Returns:
        tuple[str, str]: Paths of the train and the test split files.
    """
    if not 0 < train_percent < 100:
        raise ValueError(
            f'train_percent must be in 1..99, got {train_percent}')
    if not osp.isdir(data_root):
        raise FileNotFoundError(
            f'AID folder not found: {data_root!r}. Download AID '
            '(captain-whu.com/project/AID/) and unpack it so that '
            f'{osp.join(data_root, "Airport", "airport_1.jpg")} exists.')
    folders = sorted(
        name for name in os.listdir(data_root)
        if osp.isdir(osp.join(data_root, name))
        and name != osp.basename(osp.normpath(out_dir)))
    unknown = [name for name in folders if name not in classes]
    if unknown:
        raise ValueError(
            f'{data_root!r} holds folders that are not AID classes: '
            f'{unknown[:5]}. Point data_root at the folder that directly '
            'contains Airport/, BareLand/, ...')
    absent = [name for name in classes if name not in folders]
    if len(absent) == len(classes):
        raise FileNotFoundError(f'No AID class folder in {data_root!r}.')
    if absent:
        warnings.warn(f'{len(absent)} AID class folder(s) missing in '
                      f'{data_root!r}: {absent}. Their labels stay unused.')

    rng = np.random.RandomState(seed)
    train_lines, test_lines = [], []
    for label, name in enumerate(classes):
        if name in absent:
            continue
        files = sorted(
            f for f in os.listdir(osp.join(data_root, name))
            if f.lower().endswith(IMAGE_EXTENSIONS))
        if len(files) < 2:
            raise ValueError(f'Class folder {osp.join(data_root, name)!r} '
                             f'has {len(files)} image(s); a split needs >= 2.')
        order = rng.permutation(len(files))
        num_train = min(
            max(round(len(files) * train_percent / 100), 1),
            len(files) - 1)
        train_ids = set(order[:num_train].tolist())
        for i, file in enumerate(files):
            line = f'{name}/{file} {label}'
            (train_lines if i in train_ids else test_lines).append(line)

    out_dir = out_dir if osp.isabs(out_dir) else osp.join(data_root, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths = tuple(
        osp.join(out_dir, name)
        for name in aid_split_names(train_percent, seed))
    for path, lines in zip(paths, (train_lines, test_lines)):
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return paths
