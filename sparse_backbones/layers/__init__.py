# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Shared layers: one implementation of each primitive, used by every
backbone (timm's ``layers/``)."""
from .attention import (Attention, attention_reference, merge_heads,
                        multi_head_attention, split_heads)
from .deform import DeformableTokenMerging, deform_conv2d
from .drop import drop_path_rates
from .fused import (FusedConv2d, FusedLinear, deploy_modules, fuse_conv_bn,
                    onednn_linear)
from .mlp import Mlp
from .patch_embed import PatchEmbed, pad_to_multiple
from .pos_embed import resize_pos_embed
from .precision import float32_region, fp16_in_play
from .shape import nchw_to_nlc, nlc_to_nchw
from .weight_init import init_vit_weights

__all__ = [
    'Attention', 'DeformableTokenMerging', 'FusedConv2d', 'FusedLinear',
    'Mlp', 'PatchEmbed', 'attention_reference', 'deform_conv2d',
    'deploy_modules', 'drop_path_rates', 'float32_region', 'fp16_in_play',
    'fuse_conv_bn', 'init_vit_weights',
    'merge_heads', 'multi_head_attention', 'nchw_to_nlc', 'nlc_to_nchw',
    'onednn_linear', 'pad_to_multiple', 'resize_pos_embed', 'split_heads'
]
