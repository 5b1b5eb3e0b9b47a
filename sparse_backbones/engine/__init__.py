# Copyright (c) sparse_backbones contributors. All rights reserved.
from .dge_hooks import FLOPsRatioHook
from .ib_hook import LTMIBHook
from .optimizers import LayerDecayOptimWrapperConstructor
from .safe_load_hook import SafeCheckpointLoadingHook

__all__ = [
    'FLOPsRatioHook', 'LTMIBHook', 'LayerDecayOptimWrapperConstructor',
    'SafeCheckpointLoadingHook'
]
