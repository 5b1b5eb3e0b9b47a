# Copyright (c) sparse_backbones contributors. All rights reserved.
from .base import BaseSparseBackbone
from .lemevit import LeMeViT

__all__ = ['BaseSparseBackbone', 'LeMeViT']
