# Copyright (c) sparse_backbones contributors. All rights reserved.
from .lemevit import convert_lemevit

__all__ = ['convert_lemevit']
