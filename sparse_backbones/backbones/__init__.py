# Copyright (c) sparse_backbones contributors. All rights reserved.
from .base import BaseSparseBackbone, DynamicStats, deploy
from .dge import DGEPVT, DGEDeiT
from .lemevit import LeMeViT
from .lit import LIT
from .ltm import LTMSwin, LTMViT

__all__ = [
    'BaseSparseBackbone', 'DynamicStats', 'deploy', 'DGEDeiT', 'DGEPVT', 'LeMeViT', 'LIT', 'LTMSwin',
    'LTMViT'
]
