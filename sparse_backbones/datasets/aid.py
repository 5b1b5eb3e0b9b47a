# Copyright (c) sparse_backbones contributors. All rights reserved.
"""AID scene classification as an mmpretrain dataset."""
import os.path as osp
import re
from typing import List

from mmpretrain.datasets import CustomDataset

from ..registry import DATASETS, register_module
from ._common import missing_data_error, summarise
from .classes import AID_CLASSES

_DOWNLOAD = ('download AID (captain-whu.com/project/AID/) and unpack it so '
             'that <data_root>/Airport/airport_1.jpg exists')
_SPLIT_NAME = re.compile(r'(train|test)_(\d+)_seed(\d+)\.txt$')


def _split_command(img_root: str, ann_file: str) -> str:
    """Return the command that writes the split file ``ann_file``."""
    match = _SPLIT_NAME.search(osp.basename(ann_file))
    percent, seed = 20, 0
    if match:
        kind, value, seed = match.group(1), int(match.group(2)), int(
            match.group(3))
        percent = value if kind == 'train' else 100 - value
    out_dir = osp.relpath(osp.dirname(ann_file) or '.', img_root)
    return ('python -c "from sparse_backbones.datasets import make_aid_split; '
            f"make_aid_split('{img_root}', train_percent={percent}, "
            f"seed={seed}, out_dir='{out_dir}')\"")


@register_module(DATASETS)
class AIDDataset(CustomDataset):
    """AID: 30 scene classes, one folder per class, split files.

    A :class:`mmpretrain.datasets.CustomDataset` with the 30 AID classes as
    metainfo and checks that say what is missing and how to make it: the
    image folder, the split file (see
    :func:`sparse_backbones.datasets.make_aid_split`), a malformed split line
    (reported as ``file:line``) or listed images that do not exist. ::

        dict(type='sparse_backbones.AIDDataset',
             data_root='data/AID',
             ann_file='splits/train_20_seed0.txt')

    Args:
        **kwargs: Arguments of :class:`mmpretrain.datasets.CustomDataset`.
            Without ``ann_file`` the class folders are scanned instead.
    """

    METAINFO = dict(classes=AID_CLASSES)

    def load_data_list(self) -> List[dict]:
        """Read the split file, checking that every listed image exists.

        Returns:
            list[dict]: ``img_path`` and ``gt_label`` of each sample.
        """
        img_root = self.img_prefix
        if not osp.isdir(img_root):
            raise missing_data_error(
                'AID image folder', img_root,
                (_DOWNLOAD,
                 _split_command(img_root, self.ann_file
                                or 'splits/train_20_seed0.txt')))
        if not self.ann_file:
            return super().load_data_list()
        if not osp.isfile(self.ann_file):
            raise missing_data_error(
                'AID split file', self.ann_file,
                (_split_command(img_root, self.ann_file), ))

        num_classes = len(self.metainfo['classes'])
        data_list, missing = [], []
        with open(self.ann_file) as f:
            for line_no, line in enumerate(f, start=1):
                text = line.strip()
                if not text:
                    continue
                parts = text.rsplit(' ', 1)
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise ValueError(
                        f'{self.ann_file}:{line_no}: expected '
                        f"'<Class>/<image> <label>', got {text!r}")
                filename, label = parts[0], int(parts[1])
                if not 0 <= label < num_classes:
                    raise ValueError(
                        f'{self.ann_file}:{line_no}: label {label} is outside '
                        f'0..{num_classes - 1} ({num_classes} classes)')
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
