# Copyright (c) sparse_backbones contributors. All rights reserved.
from .optimizers import LayerDecayOptimWrapperConstructor

__all__ = ['LayerDecayOptimWrapperConstructor']
