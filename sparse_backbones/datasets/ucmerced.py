# Copyright (c) sparse_backbones contributors. All rights reserved.
"""UC Merced Land Use scene classification as an mmpretrain dataset."""
from ..registry import DATASETS, register_module
from .aid import SceneClassificationDataset
from .aid_split import SCENE_DATASETS


@register_module(DATASETS)
class UCMercedDataset(SceneClassificationDataset):
    """UC Merced: 21 land-use classes of 100 TIFF images each, split files.

    Layout written by ``tools/dataset_converters/aid.py ucm
    /path/to/UCMerced_LandUse`` (``images`` links to the untouched
    ``Images`` folder)::

        dict(type='sparse_backbones.UCMercedDataset',
             data_root='data/UCMerced_LandUse',
             data_prefix='images',
             ann_file='splits/train_80_seed0.txt')

    Args:
        **kwargs: Arguments of
            :class:`~sparse_backbones.datasets.aid.SceneClassificationDataset`.
    """

    SCENE_DATASET = 'ucm'
    METAINFO = dict(classes=SCENE_DATASETS['ucm'].classes)
