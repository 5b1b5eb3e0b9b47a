# Copyright (c) sparse_backbones contributors. All rights reserved.
"""MillionAID scene classification (51 leaf classes) as an mmpretrain
dataset: the remote-sensing pretraining of RSP and LeMeViT.

What is known about the data, and from where (sources read, not copied):

- Released layout. Two archives, ``train`` and ``test``. The train
  archive holds one folder per leaf class inside its level-1 (and level-2)
  folders: ``train/agriculture_land/grassland/meadow/P0115918.jpg``, and
  ``train/water_area/beach/P0060208.jpg`` where the level-2 node is the
  leaf itself (microsoft/torchgeo ``tests/data/millionaid/data.py``; its
  loader ``torchgeo/datasets/millionaid.py`` globs both depths). Names are
  lower-case with underscores; torchgeo lists the 51 leaves (one misspelt
  there, 'bapsketball_court'; its 73 multi-label names spell the folder
  'basketball_court') and 73 multi-label names = 8 level-1 + 14 level-2
  groups + 51 leaves. The paper's tree: 51 leaves in 28 level-2 nodes in
  8 level-1 nodes (agriculture, commercial, industrial, public service,
  residential, transportation, unutilized land, water area), 2,000 to
  45,000 images per class, 1,000,848 in all (Long et al., JSTARS 2021,
  via paperswithcode.com/dataset/million-aid).
- Labels. Only the 10,000 train-archive images are labelled; the
  990,848 test images are not (ViTAE-Transformer/
  ViTAE-Transformer-Remote-Sensing issues #3 and #10,
  ViTAE-Transformer/Remote-Sensing-RVSA #22, ViTAE-Transformer/LeMeViT #1).
- Class order. The official challenge indices (CodaLab competition 35945)
  start (0) dry_field, (1) greenhouse, (2) paddy_field, (3) terraced_field,
  (4) meadow, (5) forest, (6) orchard, (7) commercial_area: the sorted
  walk of the tree, which RSP's example line ``P0960374.jpg dry_field 0``
  also follows. The rest of that list was not retrieved;
  :data:`~.classes.MILLIONAID_CLASSES` continues the sorted walk of
  :data:`~.classes.MILLIONAID_HIERARCHY`, whose parents from index 8 on are
  reconstructed (not verified).
- RSP's split (ViTAE-Transformer/ViTAE-Transformer-Remote-Sensing @
  1b10162, ``Scene Recognition/README.md`` and ``data/build.py``; the code
  now lives in ViTAE-Transformer/RSP): all labelled images in one folder
  ``all_img/``, lists ``train_labels.txt`` / ``valid_labels.txt`` with
  lines ``<file> <leaf> <index>``, 51 leaf classes. RSP used the train and
  test images with labels from the MillionAID project and held out 1,000
  random images per class for validation (51,000), training on the rest
  (about 950,000): issues ViTAE-Transformer-Remote-Sensing #3 and
  Remote-Sensing-RVSA #18 (the RSP author). The lists and the seed were
  not published.
- LeMeViT (ViTAE-Transformer/LeMeViT @ 1b48783) reads the same files with
  the same code (``data/dataset.py::MillionAIDDataset``,
  ``configs/lemevit_scene_recognition.yaml``: ``torch/millionaid``,
  ``./datasets/millionaid``, 51 classes; ``scripts/train.sh``: 8 x 256).

``tools/dataset_converters/millionaid.py`` therefore writes RSP's protocol
(1,000 validation images per class, seeded) where the labelled images
suffice, and a seeded percentage split of the public train archive
otherwise; neither is RSP's or LeMeViT's list.
"""
import os
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Set

from mmpretrain.datasets import CustomDataset

from ..registry import DATASETS, register_module
from ._common import missing_data_error, read_label_list, summarise
from .classes import MILLIONAID_CLASSES
from .loading import RSImageLoadingMixin
from .millionaid_split import DOWNLOAD, scan_millionaid_tree


def prepare_command(data_root: str) -> str:
    """The converter command that writes ``meta/{train,val}.txt``."""
    return ('python tools/dataset_converters/millionaid.py '
            f'/path/to/MillionAID/train --out-dir {data_root or "."}')


@register_module(DATASETS)
class MillionAIDDataset(RSImageLoadingMixin, CustomDataset):
    """MillionAID: 51 leaf scene classes, read from list files.

    Lines are ``<relative path> <label>``, e.g.
    ``agriculture_land/arable_land/dry_field/P0960374.jpg 0``, with labels
    indexing :data:`~.classes.MILLIONAID_CLASSES`, as
    ``tools/dataset_converters/millionaid.py`` writes them (``images`` links
    to the untouched unpacked tree)::

        dict(type='sparse_backbones.MillionAIDDataset',
             data_root='data/millionaid',
             data_prefix='images',
             ann_file='meta/train.txt')

    The reader says what is missing and how to make it (the image folder,
    the list file), reports a malformed line or a label outside 0..50 as
    ``file:line``, a label that contradicts the leaf folder of its image
    (a list made with another class order), and listed images that do not
    exist. Without ``ann_file`` every image of the tree is read, labelled
    by its leaf folder. Images load with
    :class:`~sparse_backbones.datasets.loading.LoadRSImageFromFile`.

    Args:
        **kwargs: Arguments of :class:`mmpretrain.datasets.CustomDataset`.
    """

    METAINFO = dict(classes=MILLIONAID_CLASSES)

    def load_data_list(self) -> List[dict]:
        """Read the list file, checking labels and that images exist.

        Returns:
            list[dict]: ``img_path`` and ``gt_label`` of each sample.
        """
        img_root = self.img_prefix
        command = prepare_command(self.data_root)
        if not osp.isdir(img_root):
            raise missing_data_error('MillionAID image folder', img_root,
                                     (DOWNLOAD, command))
        if not self.ann_file:
            tree = scan_millionaid_tree(img_root)
            return [
                dict(
                    img_path=osp.join(tree.root, file),
                    gt_label=MILLIONAID_CLASSES.index(leaf))
                for leaf, files in tree.images.items() for file in files
            ]
        if not osp.isfile(self.ann_file):
            raise missing_data_error('MillionAID list file', self.ann_file,
                                     (command, ))

        num_classes = len(self.metainfo['classes'])
        leaf_label = {c: i for i, c in enumerate(MILLIONAID_CLASSES)}
        data_list = []
        by_folder: Dict[str, List[int]] = defaultdict(list)
        for line_no, filename, label in read_label_list(
                self.ann_file, num_classes, '<relative path> <label>'):
            folder, name = osp.split(filename)
            leaf = osp.basename(folder)
            if leaf in leaf_label and leaf_label[leaf] != label:
                raise ValueError(
                    f'{self.ann_file}:{line_no}: label {label} '
                    f'({MILLIONAID_CLASSES[label]}) for an image in '
                    f'{leaf}/, which is label {leaf_label[leaf]} in '
                    'MILLIONAID_CLASSES; the list was made with another '
                    f'class order. Rewrite it with: {command}')
            by_folder[folder].append(len(data_list))
            data_list.append(
                dict(
                    img_path=osp.join(img_root, filename),
                    gt_label=label,
                    _line=line_no,
                    _name=name))
        # One listing per folder instead of a stat per image (~1M files).
        missing = []
        for folder, indices in by_folder.items():
            path = osp.join(img_root, folder)
            present: Set[str] = set(
                os.listdir(path)) if osp.isdir(path) else set()
            missing += [
                i for i in indices if data_list[i]['_name'] not in present
            ]
        if missing:
            raise FileNotFoundError(
                summarise(
                    f'{len(missing)} image(s) listed in {self.ann_file!r} do '
                    f'not exist under {img_root!r}:', [
                        f'{self.ann_file}:{data_list[i]["_line"]}: '
                        f'{data_list[i]["img_path"]}' for i in sorted(missing)
                    ]))
        if not data_list:
            raise ValueError(f'List file {self.ann_file!r} lists no image.')
        for item in data_list:
            del item['_line'], item['_name']
        return data_list
