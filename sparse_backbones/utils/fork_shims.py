# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Fixes for defects of the maintained OpenMMLab fork (``onedl-*``).

The fork installs the original import names (``mmengine``, ``mmcv``,
``mmdet`` ...) under other distribution names. Four of its defects break
what this package promises; each shim below names its defect, switches on
only when ``onedl-mmengine`` is the installed mmengine, and is tested in
``tests/test_utils/test_fork_shims.py`` (those tests fail on the fork
without the shim). ``import sparse_backbones`` applies them; on the
original releases :func:`apply_fork_shims` changes nothing.

1. ``mmseg::`` base configs fail with "mmsegmentation is not installed":
   mmengine's ``MODULE2PACKAGE`` maps the module ``mmseg`` to the
   distribution ``mmsegmentation``, which the fork calls
   ``onedl-mmsegmentation``. Such entries are pointed at the module name,
   which mmengine then finds through ``importlib.util.find_spec``.
2. Checkpoints run code on load: the fork's
   ``mmengine.runner.checkpoint._safe_torch_load`` (behind ``load_from``,
   ``resume``, ``init_cfg=Pretrained``, ``load_checkpoint``) allow-lists
   the real ``builtins.getattr``, falls back to ``weights_only=False`` with
   only a warning when a file holds a type off its list (so a pickle's
   ``__reduce__`` runs), and its ``torch.serialization.safe_globals`` block
   removes on exit the allow-list entries that were registered
   process-wide. It is replaced by a loader that always reads with
   ``weights_only=True`` and this package's allow-list
   (:func:`~sparse_backbones.utils.safe_load.safe_checkpoint_loading`),
   as the original mmengine does under torch >= 2.6.
3. ``import mmdet.datasets`` (and so mmrotate's datasets) fails with
   "np.sctypes was removed in the NumPy 2.0 release": the fork's mmdet
   imports ``imgaug`` (for its lane-detection transforms), whose last
   release (0.4.0) reads ``np.sctypes`` at import, while the fork's mmseg
   needs numpy 2. ``numpy.sctypes`` is given back, with numpy 1's content,
   when it is missing; nothing else of numpy is touched.
4. mmrotate's ``DOTAMetric`` never returns: its ``eval_rbbox_map`` computes
   TP/FP in a pool of 4 *spawned* interpreters, which import
   ``mmdet.datasets`` (so imgaug, defect 3) before anything can shim them,
   die, and leave the pool waiting forever (and, where they live, cost a
   few seconds of start-up per evaluation). Its module's ``get_context`` is
   pointed at a thread pool, which shares this process and its shims.
"""
import importlib.metadata
import importlib.util
from multiprocessing.pool import ThreadPool
from types import SimpleNamespace
from typing import List

import numpy as np
import torch
from mmengine.config import utils as config_utils
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.utils import is_installed

from .safe_load import safe_checkpoint_loading

__all__ = ['FORK_MMENGINE', 'fork_installed', 'apply_fork_shims']

FORK_MMENGINE = 'onedl-mmengine'


def fork_installed() -> bool:
    """Whether the imported mmengine is the fork's distribution."""
    try:
        importlib.metadata.version(FORK_MMENGINE)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _map_modules_to_themselves() -> List[str]:
    """Shim 1: ``MODULE2PACKAGE`` entries naming a distribution that is not
    installed, for a module that is, now name the module."""
    changed = []
    for module, package in list(config_utils.MODULE2PACKAGE.items()):
        if module == package or is_installed(package):
            continue
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a finder refusing the name
            found = False
        if found:
            config_utils.MODULE2PACKAGE[module] = module
            changed.append(module)
    return changed


def _restore_numpy_sctypes() -> bool:
    """Shim 3: ``numpy.sctypes`` as numpy 1 had it, for imgaug 0.4."""
    if hasattr(np, 'sctypes'):
        return False
    np.sctypes = {
        'int': [np.int8, np.int16, np.int32, np.int64],
        'uint': [np.uint8, np.uint16, np.uint32, np.uint64],
        'float': [np.float16, np.float32, np.float64, np.longdouble],
        'complex': [np.complex64, np.complex128, np.clongdouble],
        'others': [bool, object, bytes, str, np.void],
    }
    return True


def _thread_pool_context(method=None) -> SimpleNamespace:
    """Shim 4: what mmrotate's mean_ap module gets for ``get_context``."""
    return SimpleNamespace(Pool=ThreadPool)


def _evaluate_in_threads() -> bool:
    """Shim 4: mmrotate's rotated mAP pool runs threads, not spawned
    interpreters. Imports mmrotate's evaluation only if mmrotate exists."""
    try:
        from mmrotate.evaluation.functional import mean_ap
    except ImportError:  # no mmrotate, or a host it needs is missing
        return False
    if getattr(mean_ap, 'get_context', None) is _thread_pool_context:
        return False
    mean_ap.get_context = _thread_pool_context
    return True


def weights_only_torch_load(file, map_location=None, weights_only=None):
    """Shim 2: what the fork's ``_safe_torch_load`` is replaced by.

    Always ``weights_only=True`` with the allow-list of mmengine's own
    checkpoint types; a file holding anything else is refused by
    ``torch.load`` with its ``UnpicklingError``, never unpickled freely.

    Raises:
        ValueError: A caller asks for ``weights_only=False``.
    """
    if weights_only is False:
        raise ValueError(
            'sparse_backbones loads checkpoints with weights_only=True only: '
            'an unrestricted load would run any code the file holds.')
    with safe_checkpoint_loading():
        return torch.load(file, map_location=map_location, weights_only=True)


def apply_fork_shims() -> List[str]:
    """Apply the shims when the fork is installed; idempotent.

    Returns:
        list[str]: What was changed in this call (empty on the original
        releases, or when already applied).
    """
    if not fork_installed():
        return []
    applied = [
        f'MODULE2PACKAGE[{module!r}]'
        for module in _map_modules_to_themselves()
    ]
    if _restore_numpy_sctypes():
        applied.append('numpy.sctypes')
    if _evaluate_in_threads():
        applied.append('mmrotate mean_ap.get_context')
    loader = getattr(mmengine_checkpoint, '_safe_torch_load', None)
    if loader is not None and loader is not weights_only_torch_load:
        mmengine_checkpoint._safe_torch_load = weights_only_torch_load
        applied.append('mmengine.runner.checkpoint._safe_torch_load')
    return applied
