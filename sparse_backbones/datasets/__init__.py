# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Remote-sensing datasets: AID, NWPU-RESISC45, UC Merced, MillionAID, DOTA,
iSAID and ISPRS Potsdam / Vaihingen.

The readers, class lists, split writer, the ISPRS colour decoder and
:mod:`~sparse_backbones.datasets.image_io` (how every image file becomes
pixels: 16-bit scale, bands, palettes, EXIF orientation) need no host
library; the loading transform that applies it in the pipelines,
``LoadRSImageFromFile``, needs mmcv. Each dataset class is registered only
when its host imports (mmpretrain for the scene datasets, mmdet for DOTA and
iSAID, mmseg for Potsdam and Vaihingen), so the package works in an
environment with a single host; otherwise a placeholder under the same name
raises an ``ImportError`` that says which host is missing and why.
"""
import importlib
from typing import Optional

from ._common import register_unavailable
from .aid_split import (SCENE_DATASETS, aid_split_names, make_aid_split,
                        make_scene_split)
from .classes import (AID_CLASSES, DOTA_PALETTE, DOTA_V1_CLASSES,
                      DOTA_V15_CLASSES, ISAID_CLASSES, MILLIONAID_CLASSES,
                      MILLIONAID_HIERARCHY, NWPU_RESISC45_CLASSES,
                      UCMERCED_CLASSES)
from .dota_labels import (DOTALabelError, DOTALabelFile, DOTALabelProblem,
                          DOTAObject, parse_dota_label_file)
from .image_io import (decode_image, decode_label, image_size, read_image,
                       read_label, to_uint8)
from .isprs import (ISPRS_CLASSES, ISPRS_PALETTE_RGB, POTSDAM_TILES,
                    VAIHINGEN_AREAS, clip_windows, decode_isprs_label,
                    isprs_rgb_to_index)
from .millionaid_split import (make_millionaid_split, scan_millionaid_tree,
                               write_millionaid_demo_tree)

__all__ = [
    'AID_CLASSES', 'DOTA_PALETTE', 'DOTA_V1_CLASSES', 'DOTA_V15_CLASSES',
    'ISAID_CLASSES', 'MILLIONAID_CLASSES', 'MILLIONAID_HIERARCHY',
    'NWPU_RESISC45_CLASSES', 'UCMERCED_CLASSES', 'SCENE_DATASETS',
    'ISPRS_CLASSES', 'ISPRS_PALETTE_RGB', 'POTSDAM_TILES', 'VAIHINGEN_AREAS',
    'DOTALabelError', 'DOTALabelFile', 'DOTALabelProblem', 'DOTAObject',
    'aid_split_names', 'clip_windows', 'decode_isprs_label',
    'isprs_rgb_to_index', 'make_aid_split', 'make_scene_split',
    'parse_dota_label_file', 'decode_image', 'decode_label', 'image_size',
    'read_image', 'read_label', 'to_uint8', 'make_millionaid_split',
    'scan_millionaid_tree', 'write_millionaid_demo_tree'
]


def _host_import_error(module: str) -> Optional[Exception]:
    """Import ``module``; return the error instead of raising it."""
    try:
        importlib.import_module(module)
    except Exception as err:  # noqa: BLE001
        # Hosts fail in several ways (missing package, mmcv without compiled
        # ops, version asserts); all mean "this dataset is unavailable".
        return err
    return None


if _host_import_error('mmcv.transforms') is None:
    from .loading import LoadRSImageFromFile  # noqa: F401
    __all__ += ['LoadRSImageFromFile']

_error = _host_import_error('mmpretrain.datasets')
if _error is None:
    from .aid import AIDDataset  # noqa: F401
    from .millionaid import MillionAIDDataset  # noqa: F401
    from .nwpu import NWPURESISC45Dataset  # noqa: F401
    from .ucmerced import UCMercedDataset  # noqa: F401
    __all__ += [
        'AIDDataset', 'MillionAIDDataset', 'NWPURESISC45Dataset',
        'UCMercedDataset'
    ]
else:
    for _name in ('AIDDataset', 'MillionAIDDataset', 'NWPURESISC45Dataset',
                  'UCMercedDataset'):
        register_unavailable(_name, 'mmpretrain', _error)

_error = _host_import_error('mmdet.datasets')
if _error is None:
    from .dota import DOTADataset, DOTAv15Dataset  # noqa: F401
    from .isaid import ISAIDDataset  # noqa: F401
    __all__ += ['DOTADataset', 'DOTAv15Dataset', 'ISAIDDataset']
else:
    register_unavailable('DOTADataset', 'mmdet', _error)
    register_unavailable('DOTAv15Dataset', 'mmdet', _error)
    register_unavailable('ISAIDDataset', 'mmdet', _error)

_error = _host_import_error('mmseg.datasets')
if _error is None:
    from .potsdam import ISPRSPotsdamDataset  # noqa: F401
    from .vaihingen import ISPRSVaihingenDataset  # noqa: F401
    __all__ += ['ISPRSPotsdamDataset', 'ISPRSVaihingenDataset']
else:
    register_unavailable('ISPRSPotsdamDataset', 'mmseg', _error)
    register_unavailable('ISPRSVaihingenDataset', 'mmseg', _error)
del _error
