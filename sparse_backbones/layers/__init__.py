# Copyright (c) sparse_backbones contributors. All rights reserved.
from .attention import (Attention, merge_heads, multi_head_attention,
                        split_heads)
from .conv import conv_bn
from .deform import DeformableTokenMerging, deform_conv2d
from .drop import drop_path_rates
from .linear import linear
from .mlp import Mlp
from .shape import nchw_to_nlc, nlc_to_nchw

__all__ = [
    'Attention', 'DeformableTokenMerging', 'Mlp', 'conv_bn', 'deform_conv2d',
    'drop_path_rates', 'linear', 'merge_heads', 'multi_head_attention',
    'nchw_to_nlc', 'nlc_to_nchw', 'split_heads'
]
