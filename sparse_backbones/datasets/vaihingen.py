# Copyright (c) sparse_backbones contributors. All rights reserved.
"""ISPRS Vaihingen as produced by the ISPRS converter, with layout checks."""
from mmseg.datasets import ISPRSDataset

from ..registry import DATASETS, register_module
from .potsdam import ISPRSLayoutChecks

PREPARE_VAIHINGEN = (
    'python tools/dataset_converters/isprs.py vaihingen /path/to/vaihingen '
    '--out-dir data/vaihingen   (the folder holds '
    'ISPRS_semantic_labeling_Vaihingen.zip and '
    'ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip; '
    'mmseg\'s own vaihingen converter writes the same patches)', )


@register_module(DATASETS)
class ISPRSVaihingenDataset(ISPRSLayoutChecks, ISPRSDataset):
    """mmseg's :class:`ISPRSDataset` (Vaihingen) with layout checks.

    The IRRG orthophotos are cut into 512x512 patches named
    ``area1_0_0_512_512.png`` in ``img_dir/{train,val}`` with index labels
    of the same name in ``ann_dir/{train,val}`` (``reduce_zero_label=True``).
    See :class:`~sparse_backbones.datasets.potsdam.ISPRSLayoutChecks` for
    what is checked.

    Args:
        **kwargs: Arguments of :class:`mmseg.datasets.ISPRSDataset`.
    """

    DATASET_TITLE = 'Vaihingen'
    PREPARE = PREPARE_VAIHINGEN
    EXAMPLE_PATCH = 'area1_0_0_512_512.png'
