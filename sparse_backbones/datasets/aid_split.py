# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Deterministic train/test split files for scene classification datasets.

AID, NWPU-RESISC45 and UC Merced are distributed as one folder per class
(``AID/Airport/airport_1.jpg``, ``NWPU-RESISC45/airplane/airplane_001.jpg``,
``UCMerced_LandUse/Images/agricultural/agricultural00.tif``) without
official splits; papers draw a random per-class split with a fixed training
percentage (AID 20 / 50 %, NWPU 10 / 20 %, UCM 80 %) and report the mean and
standard deviation over several seeds. :func:`make_scene_split` writes such
a split as two mmpretrain ``CustomDataset`` annotation files, e.g.
``splits/train_20_seed0.txt`` and ``splits/test_80_seed0.txt``, with lines
``Airport/airport_1.jpg 0``. The same images, percentage and seed always
give the same files, so a split can be versioned and shared. No host
library is needed.
"""
import os
import os.path as osp
import warnings
from typing import Dict, NamedTuple, Sequence, Tuple

import numpy as np

from .classes import AID_CLASSES, NWPU_RESISC45_CLASSES, UCMERCED_CLASSES

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')


class SceneDataset(NamedTuple):
    """What the split tools need to know about a scene dataset.

    Attributes:
        title (str): Name for messages, e.g. ``'NWPU-RESISC45'``.
        classes (tuple[str]): Class folder names in label order.
        train_percents (tuple[int]): Training percentages of the published
            protocols.
        download (str): Where to get it and what the folder looks like.
        config_stem (str): Stem of the dataset configs in
            ``configs/_base_/datasets/``, e.g. ``'aid'`` for
            ``aid_train20.py``.
    """
    title: str
    classes: Tuple[str, ...]
    train_percents: Tuple[int, ...]
    download: str
    config_stem: str


SCENE_DATASETS: Dict[str, SceneDataset] = dict(
    aid=SceneDataset(
        'AID', AID_CLASSES, (20, 50),
        'download AID (captain-whu.com/project/AID/) and unpack it so that '
        'AID/Airport/airport_1.jpg exists', 'aid'),
    nwpu=SceneDataset(
        'NWPU-RESISC45', NWPU_RESISC45_CLASSES, (10, 20),
        'download NWPU-RESISC45 (gcheng-nwpu.github.io, the RAR archive) and '
        'unpack it so that NWPU-RESISC45/airplane/airplane_001.jpg exists',
        'nwpu'),
    ucm=SceneDataset(
        'UC Merced', UCMERCED_CLASSES, (80, ),
        'download UCMerced_LandUse.zip (weegee.vision.ucmerced.edu/datasets/'
        'landuse.html) and unzip it so that UCMerced_LandUse/Images/'
        'agricultural/agricultural00.tif exists', 'ucm'),
)


def aid_split_names(train_percent: int, seed: int) -> Tuple[str, str]:
    """Return the file names of a split, e.g. ``train_20_seed0.txt``."""
    return (f'train_{train_percent}_seed{seed}.txt',
            f'test_{100 - train_percent}_seed{seed}.txt')


def list_class_folders(img_root: str,
                       dataset: str = 'aid',
                       skip: Sequence[str] = ()) -> Tuple[str, ...]:
    """Check ``img_root`` and return the class folders it holds, in order.

    Args:
        img_root (str): Folder holding one sub-folder per class.
        dataset (str): Key of :data:`SCENE_DATASETS`. Defaults to 'aid'.
        skip (Sequence[str]): Folder names that are not classes (e.g. the
            split folder). Defaults to ().

    Returns:
        tuple[str]: The class names found, in label order. Missing classes
        are warned about; unknown folders raise a ``ValueError``.
    """
    spec = SCENE_DATASETS[dataset]
    if not osp.isdir(img_root):
        raise FileNotFoundError(
            f'{spec.title} folder not found: {img_root!r}. To fix: '
            f'{spec.download}.')
    folders = sorted(
        name for name in os.listdir(img_root)
        if osp.isdir(osp.join(img_root, name)) and name not in skip)
    unknown = [name for name in folders if name not in spec.classes]
    if unknown:
        raise ValueError(
            f'{img_root!r} holds folders that are not {spec.title} classes: '
            f'{unknown[:5]}. Point it at the folder that directly contains '
            f'{spec.classes[0]}/, {spec.classes[1]}/, ...')
    absent = [name for name in spec.classes if name not in folders]
    if len(absent) == len(spec.classes):
        raise FileNotFoundError(
            f'No {spec.title} class folder in {img_root!r}; expected '
            f'{spec.classes[0]}/, {spec.classes[1]}/, ... ({spec.download}).')
    if absent:
        warnings.warn(f'{len(absent)} {spec.title} class folder(s) missing in '
                      f'{img_root!r}: {absent}. Their labels stay unused.')
    return tuple(name for name in spec.classes if name in folders)


def make_scene_split(img_root: str,
                     out_dir: str,
                     train_percent: int,
                     seed: int = 0,
                     dataset: str = 'aid') -> Tuple[str, str]:
    """Write a stratified random train/test split of a class-folder tree.

    Within each class the sorted image names are permuted with one
    ``numpy.random.RandomState(seed)`` shared by all classes in class order,
    and the first ``round(n * train_percent / 100)`` (at least one image and
    at least one left for testing) go to training. Labels are the indices in
    the dataset's class list. Only ``out_dir`` is written to.

    Args:
        img_root (str): Folder holding one sub-folder per class.
        out_dir (str): Folder for ``train_<p>_seed<s>.txt`` and
            ``test_<100-p>_seed<s>.txt``; created if missing.
        train_percent (int): Percentage of each class used for training,
            in 1..99.
        seed (int): Random seed. Defaults to 0.
        dataset (str): Key of :data:`SCENE_DATASETS` ('aid', 'nwpu',
            'ucm'). Defaults to 'aid'.

    Returns:
        tuple[str, str]: Paths of the train and the test split files.
    """
    if not 0 < train_percent < 100:
        raise ValueError(
            f'train_percent must be in 1..99, got {train_percent}')
    spec = SCENE_DATASETS[dataset]
    present = list_class_folders(
        img_root, dataset, skip=(osp.basename(osp.normpath(out_dir)), ))

    rng = np.random.RandomState(seed)
    train_lines, test_lines = [], []
    for label, name in enumerate(spec.classes):
        if name not in present:
            continue
        files = sorted(
            f for f in os.listdir(osp.join(img_root, name))
            if f.lower().endswith(IMAGE_EXTENSIONS))
        if len(files) < 2:
            raise ValueError(f'Class folder {osp.join(img_root, name)!r} '
                             f'has {len(files)} image(s); a split needs >= 2.')
        order = rng.permutation(len(files))
        num_train = min(
            max(round(len(files) * train_percent / 100), 1),
            len(files) - 1)
        train_ids = set(order[:num_train].tolist())
        for i, file in enumerate(files):
            line = f'{name}/{file} {label}'
            (train_lines if i in train_ids else test_lines).append(line)

    os.makedirs(out_dir, exist_ok=True)
    paths = tuple(
        osp.join(out_dir, name)
        for name in aid_split_names(train_percent, seed))
    for path, lines in zip(paths, (train_lines, test_lines)):
        # Write then rename: an interrupted run never leaves half a file.
        tmp = f'{path}.tmp-{os.getpid()}'
        with open(tmp, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.replace(tmp, path)
    return paths


def make_aid_split(data_root: str,
                   train_percent: int = 20,
                   seed: int = 0,
                   out_dir: str = 'splits',
                   classes: Sequence[str] = AID_CLASSES) -> Tuple[str, str]:
    """Write a per-class random train/test split of an AID folder tree.

    :func:`make_scene_split` for AID with the split folder inside
    ``data_root`` by default (as the demo data uses it). To keep the source
    folder untouched use ``tools/dataset_converters/aid.py``.

    Args:
        data_root (str): Folder holding one sub-folder per class.
        train_percent (int): Percentage of each class used for training,
            in 1..99. Defaults to 20.
        seed (int): Random seed. Defaults to 0.
        out_dir (str): Output folder, relative to ``data_root`` unless
            absolute. Defaults to 'splits'.
        classes (Sequence[str]): Class names in label order; only the AID
            classes are supported. Defaults to AID_CLASSES.

    Returns:
        tuple[str, str]: Paths of the train and the test split files.
    """
    if tuple(classes) != AID_CLASSES:
        raise ValueError('make_aid_split writes AID splits; use '
                         'make_scene_split(dataset=...) for other datasets.')
    if not osp.isdir(data_root):
        raise FileNotFoundError(
            f'AID folder not found: {data_root!r}. Download AID '
            '(captain-whu.com/project/AID/) and unpack it so that '
            f'{osp.join(data_root, "Airport", "airport_1.jpg")} exists.')
    out_dir = out_dir if osp.isabs(out_dir) else osp.join(data_root, out_dir)
    return make_scene_split(data_root, out_dir, train_percent, seed, 'aid')
