# Copyright (c) sparse_backbones contributors. All rights reserved.
"""AID scene classification as an mmpretrain dataset, and the checked
split-file reader that NWPU-RESISC45 and UC Merced share with it."""
import os.path as osp
import re
from typing import List

from mmpretrain.datasets import CustomDataset

from ..registry import DATASETS, register_module
from ._common import missing_data_error, read_label_list, summarise
from .aid_split import SCENE_DATASETS
from .loading import RSImageLoadingMixin

_SPLIT_NAME = re.compile(r'(train|test)_(\d+)_seed(\d+)\.txt$')


def split_command(dataset: str, data_root: str, ann_file: str) -> str:
    """Return the converter command that writes the split ``ann_file``.

    Args:
        dataset (str): Key of ``SCENE_DATASETS`` ('aid', 'nwpu', 'ucm').
        data_root (str): The config's ``data_root`` (converter output).
        ann_file (str): The split file the config names.

    Returns:
        str: A ``tools/dataset_converters/aid.py`` command line.
    """
    spec = SCENE_DATASETS[dataset]
    percent, seed = spec.train_percents[0], 0
    match = _SPLIT_NAME.search(osp.basename(ann_file or ''))
    if match:
        kind, value, seed = match.group(1), int(match.group(2)), int(
            match.group(3))
        percent = value if kind == 'train' else 100 - value
    return (f'python tools/dataset_converters/aid.py {dataset} '
            f'/path/to/{spec.title.replace(" ", "")} --out-dir '
            f'{data_root or "."} --train-percents {percent} --seeds {seed}')


class SceneClassificationDataset(RSImageLoadingMixin, CustomDataset):
    """Class folders plus split files, read with checks.

    A :class:`mmpretrain.datasets.CustomDataset` whose split file lines are
    ``<Class>/<image> <label>`` and which says what is missing and how to
    make it: the image folder, the split file (written by
    ``tools/dataset_converters/aid.py``), a malformed split line (reported
    as ``file:line``), a label outside the class list, or listed images that
    do not exist. Images are loaded with
    :class:`~sparse_backbones.datasets.loading.LoadRSImageFromFile` (see
    :func:`~sparse_backbones.datasets.loading.route_image_loading`).
    Subclasses set ``SCENE_DATASET`` (a key of
    ``SCENE_DATASETS``) and ``METAINFO``.

    Args:
        **kwargs: Arguments of :class:`mmpretrain.datasets.CustomDataset`.
            Without ``ann_file`` the class folders are scanned instead.
    """

    SCENE_DATASET = 'aid'

    def load_data_list(self) -> List[dict]:
        """Read the split file, checking that every listed image exists.

        Returns:
            list[dict]: ``img_path`` and ``gt_label`` of each sample.
        """
        spec = SCENE_DATASETS[self.SCENE_DATASET]
        img_root = self.img_prefix
        command = split_command(self.SCENE_DATASET, self.data_root,
                                self.ann_file)
        if not osp.isdir(img_root):
            raise missing_data_error(f'{spec.title} image folder', img_root,
                                     (spec.download, command))
        if not self.ann_file:
            return super().load_data_list()
        if not osp.isfile(self.ann_file):
            raise missing_data_error(f'{spec.title} split file', self.ann_file,
                                     (command, ))

        num_classes = len(self.metainfo['classes'])
        data_list, missing = [], []
        for line_no, filename, label in read_label_list(
                self.ann_file, num_classes, '<Class>/<image> <label>'):
            img_path = osp.join(img_root, filename)
            if not osp.isfile(img_path):
                missing.append(f'{self.ann_file}:{line_no}: {img_path}')
            data_list.append(dict(img_path=img_path, gt_label=label))
        if missing:
            raise FileNotFoundError(
                summarise(
                    f'{len(missing)} image(s) listed in {self.ann_file!r} do '
                    f'not exist under {img_root!r}:', missing))
        if not data_list:
            raise ValueError(f'Split file {self.ann_file!r} lists no image.')
        return data_list


@register_module(DATASETS)
class AIDDataset(SceneClassificationDataset):
    """AID: 30 scene classes, one folder per class, split files.

    Layout written by ``tools/dataset_converters/aid.py aid /path/to/AID``
    (``images`` links to the untouched AID folder)::

        dict(type='sparse_backbones.AIDDataset',
             data_root='data/AID',
             data_prefix='images',
             ann_file='splits/train_20_seed0.txt')

    Args:
        **kwargs: Arguments of :class:`SceneClassificationDataset`.
    """

    SCENE_DATASET = 'aid'
    METAINFO = dict(classes=SCENE_DATASETS['aid'].classes)
