# Copyright (c) sparse_backbones contributors. All rights reserved.
from .attention import (Attention, merge_heads, multi_head_attention,
                        split_heads)
from .drop import drop_path_rates
from .linear import linear
from .mlp import Mlp
from .shape import nchw_to_nlc, nlc_to_nchw

__all__ = [
    'Attention', 'multi_head_attention', 'split_heads', 'merge_heads', 'Mlp',
    'drop_path_rates', 'linear', 'nlc_to_nchw', 'nchw_to_nlc'
]
