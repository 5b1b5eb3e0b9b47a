# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Efficient vision-transformer backbones for mmpretrain, mmdet and mmseg.

Importing the package registers every public backbone, loss, metric, hook
and host-model subclass, and the layer-decay optimizer-wrapper constructor;
dataset classes that need a host library
(mmdet, mmseg) are registered when that library is installed. On the maintained
OpenMMLab fork (``onedl-*`` distributions) importing also applies the shims
of :mod:`sparse_backbones.utils.fork_shims` (mmengine's ``MODULE2PACKAGE``
and its checkpoint loader); on the original releases they change nothing.
Importing changes no other global state: torch's ``weights_only`` allow-list for
mmengine's own checkpoints is installed by what loads them (our tools, the
``Pretrained`` path, ``SafeCheckpointLoadingHook``); a user script that
loads training checkpoints under torch >= 2.6 calls
:func:`enable_safe_checkpoint_loading` once.

Subpackages import only from lower levels (or from within themselves);
``tests/test_package/test_import_direction.py`` enforces it:

====  ==========================================================
0     ``version``, ``registry``, ``utils``
1     ``layers``
2     ``converters``
3     ``backbones``
4     ``datasets``, ``losses``
5     ``models``, ``engine``, ``evaluation``
6     ``visualization``, ``benchmark``, ``demo``
7     ``sparse_backbones`` itself (this file)
====  ==========================================================
"""
import mmengine
import torch

# First: the fork's defects break importing the hosts (numpy.sctypes) and
# what our registrations rely on (sparse_backbones/utils/fork_shims.py).
from .utils.fork_shims import apply_fork_shims

apply_fork_shims()  # no-op unless onedl-mmengine is installed

# Imported for registration.
from . import (backbones, datasets, engine, evaluation, losses,  # noqa: F401
               models)
from .backbones import deploy
from .utils.mim import register_config_package
from .utils.safe_load import enable_safe_checkpoint_loading
from .version import (__version__, check_mmengine_version,
                      check_torch_version)

check_torch_version(torch.__version__)
check_mmengine_version(mmengine.__version__)
register_config_package()  # `sparse_backbones::` configs (configs/README.md)

__all__ = ['__version__', 'deploy', 'enable_safe_checkpoint_loading']
