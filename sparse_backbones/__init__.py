# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Efficient vision-transformer backbones for mmpretrain, mmdet and mmseg.

Importing the package registers every public backbone, loss, metric, hook
and host-model subclass, and the layer-decay optimizer-wrapper constructor;
dataset classes that need a host library
(mmdet, mmseg) are registered when that library is installed. It also
allow-lists the types of mmengine's own checkpoints for torch's
``weights_only`` loading, so training checkpoints load again under
torch >= 2.6 without unpickling arbitrary objects.
"""
# Imported for registration.
from . import (backbones, datasets, engine, evaluation, losses,  # noqa: F401
               models)
from .utils.safe_load import allow_mmengine_checkpoint_types
from .version import __version__

allow_mmengine_checkpoint_types()

__all__ = ['__version__']
