# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Remote-sensing datasets: AID, DOTA and ISPRS Potsdam.

The readers, class lists and the ISPRS colour decoder need no host library.
Each dataset class is registered only when its host imports (mmpretrain for
AID, mmdet for DOTA, mmseg for Potsdam), so the package works in an
environment with a single host; otherwise a placeholder under the same name
raises an ``ImportError`` that says which host is missing and why.
"""
import importlib
from typing import Optional

from ._common import register_unavailable
from .aid_split import aid_split_names, make_aid_split
from .classes import (AID_CLASSES, DOTA_PALETTE, DOTA_V1_CLASSES,
                      DOTA_V15_CLASSES)
from .dota_labels import (DOTALabelError, DOTALabelFile, DOTALabelProblem,
                          DOTAObject, parse_dota_label_file)
from .isprs import ISPRS_CLASSES, ISPRS_PALETTE_RGB, isprs_rgb_to_index

__all__ = [
    'AID_CLASSES', 'DOTA_PALETTE', 'DOTA_V1_CLASSES', 'DOTA_V15_CLASSES',
    'ISPRS_CLASSES', 'ISPRS_PALETTE_RGB', 'DOTALabelError', 'DOTALabelFile',
    'DOTALabelProblem', 'DOTAObject', 'aid_split_names', 'isprs_rgb_to_index',
    'make_aid_split', 'parse_dota_label_file'
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


_error = _host_import_error('mmpretrain.datasets')
if _error is None:
    from .aid import AIDDataset  # noqa: F401
    __all__ += ['AIDDataset']
else:
    register_unavailable('AIDDataset', 'mmpretrain', _error)

_error = _host_import_error('mmdet.datasets')
if _error is None:
    from .dota import DOTADataset, DOTAv15Dataset  # noqa: F401
    __all__ += ['DOTADataset', 'DOTAv15Dataset']
else:
    register_unavailable('DOTADataset', 'mmdet', _error)
    register_unavailable('DOTAv15Dataset', 'mmdet', _error)

_error = _host_import_error('mmseg.datasets')
if _error is None:
    from .potsdam import ISPRSPotsdamDataset  # noqa: F401
    __all__ += ['ISPRSPotsdamDataset']
else:
    register_unavailable('ISPRSPotsdamDataset', 'mmseg', _error)
del _error
