# Copyright (c) sparse_backbones contributors. All rights reserved.
"""DOTA patches as an mmdet dataset (horizontal boxes + polygon masks).

Reads the layout written by ``tools/dataset_converters/dota.py`` (or the
DOTA devkit / mmrotate splitters)::

    data/split_ss_dota/
    ├── trainval/images/P0000__1024__0___0.png
    ├── trainval/labelTxt/P0000__1024__0___0.txt
    └── ...

Each object polygon becomes an instance mask in polygon format (as mmdet's
``LoadAnnotations(with_mask=True)`` expects) and its enclosing box the
``bbox``; difficult objects get ``ignore_flag=1``, so mmdet's
``VOCMetric`` neither rewards nor penalises detections of them, as the
official DOTA HBB evaluation does.
"""
import os
import os.path as osp
import warnings
from typing import List, Optional, Sequence

from mmdet.datasets import BaseDetDataset

from ..registry import DATASETS, register_module
from ._common import missing_data_error, summarise
from .classes import DOTA_PALETTE, DOTA_V1_CLASSES, DOTA_V15_CLASSES
from .dota_labels import (DOTALabelError, DOTALabelProblem, DOTAObject,
                          parse_dota_label_file)
from .image_io import image_size
from .loading import RSImageLoadingMixin

PREPARE_DOTA = (
    'python tools/dataset_converters/dota.py data/DOTA/train data/DOTA/val '
    '--out-dir data/split_ss_dota/trainval',
    'python tools/dataset_converters/dota.py data/DOTA/val '
    '--out-dir data/split_ss_dota/val',
    'python tools/dataset_converters/dota.py data/DOTA/test --images-only '
    '--out-dir data/split_ss_dota/test',
    '(1024x1024 patches, 200-pixel overlap; the DOTA devkit\'s ImgSplit.py '
    'with subsize=1024, gap=200 writes the same layout)')


@register_module(DATASETS)
class DOTADataset(RSImageLoadingMixin, BaseDetDataset):
    """DOTA-v1.0 patches with horizontal boxes and polygon masks.

    Configure it like mmrotate's DOTA dataset::

        dict(type='sparse_backbones.DOTADataset',
             data_root='data/split_ss_dota/',
             ann_file='trainval/labelTxt/',
             data_prefix=dict(img_path='trainval/images/'))

    Every image needs a label file of the same stem; an empty file is an
    image without objects. With ``ann_file=''`` (e.g. the test split, whose
    labels are withheld) images are listed without annotations. Images are
    loaded with :class:`~sparse_backbones.datasets.loading.LoadRSImageFromFile`
    (see :mod:`~sparse_backbones.datasets.image_io`).

    Lines that cannot be read are reported with ``file:line`` and, by
    default, skipped with one summary warning; the skipped lines are kept in
    :attr:`malformed_lines`. Objects whose enclosing box is smaller than one
    pixel are kept with ``ignore_flag=1`` and listed in
    :attr:`degenerate_objects`.

    Args:
        img_suffix (str): Image file extension. Defaults to '.png'.
        on_malformed (str): ``'warn'`` to skip unreadable label lines with a
            warning, ``'raise'`` to stop with :class:`DOTALabelError`.
            Defaults to 'warn'.
        ignore_difficult (bool): Mark objects with a non-zero difficulty
            (1 = difficult, 2 = truncated by the splitter) as ignored.
            Defaults to True.
        **kwargs: Arguments of :class:`mmdet.datasets.BaseDetDataset`
            (``data_root``, ``ann_file``, ``data_prefix``, ``filter_cfg``
            with ``filter_empty_gt`` and ``min_size``, ``pipeline``, ...).
            Files are read from the local file system.
    """

    METAINFO = dict(classes=DOTA_V1_CLASSES, palette=list(DOTA_PALETTE[:15]))

    def __init__(self,
                 *args,
                 img_suffix: str = '.png',
                 on_malformed: str = 'warn',
                 ignore_difficult: bool = True,
                 **kwargs) -> None:
        if on_malformed not in ('warn', 'raise'):
            raise ValueError("on_malformed must be 'warn' or 'raise', got "
                             f'{on_malformed!r}')
        self.img_suffix = img_suffix
        self.on_malformed = on_malformed
        self.ignore_difficult = ignore_difficult
        self.malformed_lines: List[DOTALabelProblem] = []
        self.degenerate_objects: List[DOTALabelProblem] = []
        super().__init__(*args, **kwargs)

    def _list_images(self, img_dir: str) -> List[str]:
        """Return the sorted image file names in ``img_dir``."""
        if not osp.isdir(img_dir):
            raise missing_data_error(f'{type(self).__name__} image folder',
                                     img_dir, PREPARE_DOTA)
        suffix = self.img_suffix.lower()
        names = sorted(
            name for name in os.listdir(img_dir)
            if name.lower().endswith(suffix))
        if not names:
            raise FileNotFoundError(
                f'No {self.img_suffix!r} images in {img_dir!r}. Expected DOTA '
                'patches such as P0000__1024__0___0.png; set img_suffix if '
                'they have another extension.')
        return names

    def _check_label_dir(self, label_dir: str, stems: Sequence[str]) -> None:
        """Check that every image has a label file of the same stem."""
        if not osp.isdir(label_dir):
            if osp.isfile(label_dir):
                raise ValueError(
                    f'{type(self).__name__} expects ann_file to be a folder '
                    f'of DOTA .txt label files, got the file {label_dir!r}.')
            raise missing_data_error(f'{type(self).__name__} label folder',
                                     label_dir, PREPARE_DOTA)
        labels = {
            osp.splitext(name)[0]
            for name in os.listdir(label_dir) if name.endswith('.txt')
        }
        missing = [stem for stem in stems if stem not in labels]
        if missing:
            raise FileNotFoundError(
                summarise(
                    f'{len(missing)} image(s) have no label file in '
                    f'{label_dir!r} (an image without objects needs an '
                    'empty .txt file):', [f'{stem}.txt' for stem in missing]))
        orphans = sorted(labels.difference(stems))
        if orphans:
            warnings.warn(
                summarise(
                    f'{len(orphans)} label file(s) in {label_dir!r} have no '
                    'image and are not used:',
                    [f'{stem}.txt' for stem in orphans]))

    def _to_instance(self, obj: DOTAObject, cat2label: dict,
                     path: str) -> dict:
        """Convert a parsed object into an mmdet instance dict."""
        x1, y1, x2, y2 = obj.bbox
        ignore = self.ignore_difficult and obj.difficult > 0
        if x2 - x1 < 1 or y2 - y1 < 1:
            # A zero-size box gives infinite regression targets (log of its
            # width); keep such objects visible as ignored, not dropped.
            ignore = True
            self.degenerate_objects.append(
                DOTALabelProblem(path, obj.line,
                                 'box smaller than 1 pixel, kept as ignored',
                                 f'{obj.class_name} {obj.polygon}'))
        return dict(
            bbox=[x1, y1, x2, y2],
            bbox_label=cat2label[obj.class_name],
            mask=[list(obj.polygon)],
            ignore_flag=int(ignore))

    def load_data_list(self) -> List[dict]:
        """Read the images and their label files.

        Returns:
            list[dict]: One dict per image with ``img_path``, ``img_id``,
            ``width``, ``height`` and ``instances`` (``bbox``, ``bbox_label``,
            ``mask``, ``ignore_flag``).
        """
        img_dir = self.data_prefix.get('img_path', '')
        names = self._list_images(img_dir)
        stems = [osp.splitext(name)[0] for name in names]
        label_dir: Optional[str] = self.ann_file or None
        if label_dir is not None:
            self._check_label_dir(label_dir, stems)

        classes = self.metainfo['classes']
        cat2label = {name: i for i, name in enumerate(classes)}
        self.malformed_lines, self.degenerate_objects = [], []
        data_list = []
        for name, stem in zip(names, stems):
            img_path = osp.join(img_dir, name)
            width, height = image_size(img_path)  # the header only
            instances = []
            if label_dir is not None:
                label_path = osp.join(label_dir, stem + '.txt')
                parsed = parse_dota_label_file(label_path, classes)
                if parsed.problems and self.on_malformed == 'raise':
                    raise DOTALabelError(
                        summarise('Unreadable DOTA label line(s):',
                                  [str(p) for p in parsed.problems]))
                self.malformed_lines.extend(parsed.problems)
                instances = [
                    self._to_instance(obj, cat2label, label_path)
                    for obj in parsed.objects
                ]
            data_list.append(
                dict(
                    img_path=img_path,
                    img_id=stem,
                    width=width,
                    height=height,
                    instances=instances))
        self._warn_about_labels(label_dir)
        return data_list

    def _warn_about_labels(self, label_dir: Optional[str]) -> None:
        """Emit one warning per kind of label problem found."""
        if self.malformed_lines:
            warnings.warn(
                summarise(
                    f'{type(self).__name__}: skipped '
                    f'{len(self.malformed_lines)} unreadable label line(s) '
                    f"in {label_dir!r} (on_malformed='raise' stops instead):",
                    [str(p) for p in self.malformed_lines]))
        if self.degenerate_objects:
            warnings.warn(
                summarise(
                    f'{type(self).__name__}: '
                    f'{len(self.degenerate_objects)} object(s) in '
                    f'{label_dir!r} have a box smaller than 1 pixel and are '
                    'kept as ignored:',
                    [str(p) for p in self.degenerate_objects]))

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` (``filter_empty_gt``, ``min_size``).

        Images count as empty when all their objects are ignored. Nothing is
        filtered in ``test_mode``.
        """
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = []
        for info in self.data_list:
            if min(info['width'], info['height']) < min_size:
                continue
            if filter_empty_gt and all(inst['ignore_flag']
                                       for inst in info['instances']):
                continue
            kept.append(info)
        if self.data_list and not kept:
            raise ValueError(
                f'filter_cfg={self.filter_cfg} removed all '
                f'{len(self.data_list)} images of {self.ann_file!r} (images '
                f'smaller than min_size, or without any non-ignored object '
                'when filter_empty_gt=True).')
        return kept


@register_module(DATASETS)
class DOTAv15Dataset(DOTADataset):
    """DOTA-v1.5 patches: the 15 v1.0 classes plus ``container-crane``."""

    METAINFO = dict(classes=DOTA_V15_CLASSES, palette=list(DOTA_PALETTE))
