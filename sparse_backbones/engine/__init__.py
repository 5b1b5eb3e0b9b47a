# Copyright (c) sparse_backbones contributors. All rights reserved.
from .atomic_backend import ATOMIC_BACKEND, AtomicLocalBackend
from .dge_hooks import FLOPsRatioHook
from .exact_resume import ExactResumeHook
from .ib_hook import LTMIBHook
from .optimizers import LayerDecayOptimWrapperConstructor
from .safe_load_hook import SafeCheckpointLoadingHook

__all__ = [
    'ATOMIC_BACKEND', 'AtomicLocalBackend', 'ExactResumeHook',
    'FLOPsRatioHook', 'LTMIBHook', 'LayerDecayOptimWrapperConstructor',
    'SafeCheckpointLoadingHook'
]
