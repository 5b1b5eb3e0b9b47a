# Copyright (c) sparse_backbones contributors. All rights reserved.
"""ISPRS Potsdam as produced by the ISPRS converter, with layout checks."""
import os.path as osp
from typing import List, Sequence

import numpy as np
from mmseg.datasets import PotsdamDataset

from ..registry import DATASETS, register_module
from ._common import missing_data_error
from .image_io import read_label
from .isprs import ISPRS_PALETTE_RGB
from .loading import RSImageLoadingMixin

PREPARE_POTSDAM = (
    'python tools/dataset_converters/isprs.py potsdam /path/to/potsdam '
    '--out-dir data/potsdam   (the folder holds 2_Ortho_RGB.zip and '
    '5_Labels_all_noBoundary.zip; mmseg\'s own potsdam converter writes the '
    'same patches)', )


class ISPRSLayoutChecks(RSImageLoadingMixin):
    """Mixin for mmseg's ISPRS datasets: check folders and label format.

    Reads the same ``img_dir/{train,val}`` and ``ann_dir/{train,val}``
    folders (index PNGs, ``reduce_zero_label=True``) and fails early with a
    message that names the expected path and the converter when

    - a folder is missing or holds no image,
    - an image has no label of the same name,
    - the first label is still a colour (RGB) image or holds values outside
      0..6, i.e. it was not produced by the converter (decode colour
      labels with :func:`sparse_backbones.datasets.isprs_rgb_to_index`).

    Images are loaded with
    :class:`~sparse_backbones.datasets.loading.LoadRSImageFromFile`; label
    maps are checked as mmseg reads them (palette PNGs keep their indices,
    :func:`~sparse_backbones.datasets.image_io.read_label`).

    Subclasses set ``DATASET_TITLE``, ``PREPARE`` (commands) and
    ``EXAMPLE_PATCH``.
    """

    DATASET_TITLE = 'Potsdam'
    PREPARE: Sequence[str] = PREPARE_POTSDAM
    EXAMPLE_PATCH = '2_10_0_0_512_512.png'

    def load_data_list(self) -> List[dict]:
        """List the image/label pairs after checking the folders.

        Returns:
            list[dict]: mmseg data infos (``img_path``, ``seg_map_path``...).
        """
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', None)
        for what, path in ((f'{self.DATASET_TITLE} image folder', img_dir),
                           (f'{self.DATASET_TITLE} label folder', ann_dir)):
            if path is not None and not osp.isdir(path):
                raise missing_data_error(what, path, self.PREPARE)
        data_list = super().load_data_list()
        if not data_list:
            raise FileNotFoundError(
                f'No {self.img_suffix!r} image in {img_dir!r}; expected '
                f'patches such as {self.EXAMPLE_PATCH} written by the '
                f'converter:\n    {self.PREPARE[0]}')
        if ann_dir is None:
            return data_list
        missing = [
            info['seg_map_path'] for info in data_list
            if not osp.isfile(info['seg_map_path'])
        ]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of {len(data_list)} image(s) have no label '
                f'in {ann_dir!r}, e.g. {missing[0]!r}.')
        self._check_label_format(data_list[0]['seg_map_path'])
        return data_list

    def _check_label_format(self, path: str) -> None:
        """Reject colour labels and values the converter never writes."""
        label = read_label(path)
        if label.ndim == 3:
            raise ValueError(
                f'{path!r} is a colour label (shape {label.shape}); mmseg '
                'expects index PNGs with 0 (boundary) and 1..6 (classes). '
                'Convert the ISPRS colour labels with the converter '
                f'({self.PREPARE[0]}) or with sparse_backbones.datasets.'
                'isprs_rgb_to_index (RGB order!).')
        max_index = len(ISPRS_PALETTE_RGB)
        if label.max() > max_index:
            raise ValueError(
                f'{path!r} holds label values up to {int(label.max())}; the '
                f'converter writes 0..{max_index} (0 = boundary, ignored with '
                'reduce_zero_label=True). Values seen: '
                f'{np.unique(label).tolist()[:10]}.')


@register_module(DATASETS)
class ISPRSPotsdamDataset(ISPRSLayoutChecks, PotsdamDataset):
    """mmseg's :class:`PotsdamDataset` with checks of the data layout.

    See :class:`ISPRSLayoutChecks` for what is checked. The 6-class
    protocol uses it as is; the 5-class protocol of the remote-sensing
    papers passes ``metainfo=dict(classes=...)`` without clutter, which
    mmseg maps to 255 (ignored).

    Args:
        **kwargs: Arguments of :class:`mmseg.datasets.PotsdamDataset`.
    """
