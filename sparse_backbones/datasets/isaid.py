# Copyright (c) sparse_backbones contributors. All rights reserved.
"""iSAID instance segmentation patches as an mmdet dataset."""
import os.path as osp
from typing import List, Sequence

from mmdet.datasets import iSAIDDataset
from mmdet.datasets.api_wrappers import COCO

from ..registry import DATASETS, register_module
from ._common import missing_data_error
from .classes import ISAID_CLASSES, ISAID_PALETTE_RGB
from .loading import RSImageLoadingMixin

PREPARE_ISAID = (
    'python tools/dataset_converters/isaid.py /path/to/iSAID --out-dir '
    'data/iSAID   (the folder holds {train,val}/images/P0002.png with '
    'P0002_instance_color_RGB.png and P0002_instance_id_RGB.png)', )


class _ClassOrderCheckedCOCO(COCO):
    """mmdet's COCO wrapper that insists on categories in class order.

    mmdet numbers labels by the order of the json's categories, not of the
    class list, and ``CocoMetric`` maps labels back the same way; a json
    whose categories come in another order (the devkit numbers them by first
    appearance, differently in train and val) would give train and val
    different labels. Refuse it instead.
    """

    def get_cat_ids(
        self,
        cat_names: Sequence[str] = (),
        sup_names: Sequence[str] = (),
        cat_ids: Sequence[int] = ()
    ) -> List[int]:
        ids = super().get_cat_ids(
            list(cat_names), list(sup_names), list(cat_ids))
        found = [self.cats[i]['name'] for i in ids]
        if cat_names and found != list(cat_names):
            absent = [name for name in cat_names if name not in found]
            raise ValueError(
                'The iSAID json must list the 15 categories in the order '
                f'{list(cat_names)}; it lists {found}' +
                (f' and lacks {absent}' if absent else '') +
                '. Write it with tools/dataset_converters/isaid.py, which '
                'uses the devkit ids 1..15 in both splits.')
        return ids


@register_module(DATASETS)
class ISAIDDataset(RSImageLoadingMixin, iSAIDDataset):
    """iSAID patches (800x800, overlap 200) with the 15 devkit categories.

    mmdet's :class:`~mmdet.datasets.iSAIDDataset` lists 16 classes: a dummy
    'background' first (a category that has no annotation) and 'store_tank'
    where the devkit json says 'storage_tank'. Since mmdet keeps only json
    categories whose name is in the class list, storage tanks would silently
    vanish and every head would predict one class that never occurs. This
    class keeps the 15 real categories with the devkit's names in the
    devkit's id order (1..15), so labels 0..14 are ids 1..15; a 'background'
    category in the json (as mmdet's ``projects/iSAID/isaid_json.py`` adds
    with id 0) is simply not used. Heads use ``num_classes=15``.

    Images are loaded with
    :class:`~sparse_backbones.datasets.loading.LoadRSImageFromFile`. It also
    fails early, naming the converter, when the json or the image
    folder is missing::

        dict(type='sparse_backbones.ISAIDDataset',
             data_root='data/iSAID/',
             ann_file='train/instancesonly_filtered_train.json',
             data_prefix=dict(img='train/images/'))

    Args:
        **kwargs: Arguments of :class:`mmdet.datasets.CocoDataset`.
    """

    COCOAPI = _ClassOrderCheckedCOCO
    METAINFO = dict(
        classes=ISAID_CLASSES, palette=[tuple(c) for c in ISAID_PALETTE_RGB])

    def load_data_list(self) -> List[dict]:
        """Check the json and image folder, then read the json.

        Returns:
            list[dict]: mmdet data infos.
        """
        if not osp.isfile(self.ann_file):
            raise missing_data_error('iSAID annotation file', self.ann_file,
                                     PREPARE_ISAID)
        img_dir = self.data_prefix.get('img', '')
        if img_dir and not osp.isdir(img_dir):
            raise missing_data_error('iSAID image folder', img_dir,
                                     PREPARE_ISAID)
        return super().load_data_list()
