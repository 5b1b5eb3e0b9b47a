# Copyright (c) sparse_backbones contributors. All rights reserved.
from .dge import convert_dge
from .lemevit import convert_lemevit
from .lit import convert_lit

__all__ = ['convert_dge', 'convert_lemevit', 'convert_lit']
