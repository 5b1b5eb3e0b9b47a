# Copyright (c) sparse_backbones contributors. All rights reserved.
"""NWPU-RESISC45 scene classification as an mmpretrain dataset."""
from ..registry import DATASETS, register_module
from .aid import SceneClassificationDataset
from .aid_split import SCENE_DATASETS


@register_module(DATASETS)
class NWPURESISC45Dataset(SceneClassificationDataset):
    """NWPU-RESISC45: 45 scene classes of 700 images (256x256), split files.

    Layout written by ``tools/dataset_converters/aid.py nwpu
    /path/to/NWPU-RESISC45`` (``images`` links to the untouched folder)::

        dict(type='sparse_backbones.NWPURESISC45Dataset',
             data_root='data/NWPU-RESISC45',
             data_prefix='images',
             ann_file='splits/train_20_seed0.txt')

    Args:
        **kwargs: Arguments of
            :class:`~sparse_backbones.datasets.aid.SceneClassificationDataset`.
    """

    SCENE_DATASET = 'nwpu'
    METAINFO = dict(classes=SCENE_DATASETS['nwpu'].classes)
