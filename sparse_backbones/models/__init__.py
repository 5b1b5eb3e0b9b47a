# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Host models that add a dynamic backbone's auxiliary losses (the budget
loss of DGE) to the losses dict; registered for the installed hosts."""
from . import ltm_ib  # noqa: F401  (LTMIBClsHead, with mmpretrain)
from .aux_loss import AuxiliaryLossMixin, registered_models
from .config import backbone_out_channels, sync_in_channels

__all__ = [
    'AuxiliaryLossMixin', 'registered_models', 'backbone_out_channels',
    'sync_in_channels'
]
