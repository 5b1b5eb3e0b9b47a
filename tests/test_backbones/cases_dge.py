# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Contract-test cases of the DGE backbones (see cases.py).

DGEDeiT's stages are its blocks (mmpretrain ``VisionTransformer``'s
``out_indices``/``frozen_stages`` meaning), all at stride 16: a 4-block
arch gives the four stages the contract tests index.
"""
from ._case import Case

CASES = [
    Case(
        'DGEDeiT',
        dict(
            type='sparse_backbones.DGEDeiT',
            arch=dict(embed_dims=32, depth=4, num_heads=2),
            out_type='featmap',
            drop_path_rate=0.1),
        strides=(16, 16, 16, 16),
        cls_cfg=dict(out_type='cls_token')),
    Case(
        'DGEPVT',
        dict(
            type='sparse_backbones.DGEPVT',
            arch=dict(
                embed_dims=[16, 32, 48, 64],
                depths=[1, 2, 1, 1],
                num_heads=[1, 2, 2, 4]),
            drop_path_rate=0.1),
        cls_cfg=dict(out_type='cls_token')),
]
