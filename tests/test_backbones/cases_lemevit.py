# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Contract-test cases of the LeMeViT backbone (see cases.py)."""
from ._case import Case

CASES = [
    Case(
        'LeMeViT',
        dict(
            type='sparse_backbones.LeMeViT',
            arch=dict(
                embed_dims=[32, 64, 96, 128], depths=[1, 2, 1, 1],
                cross_depth=1),
            num_meta_tokens=4,
            drop_path_rate=0.1),
        cls_cfg=dict(out_type='avg_featmap')),
]
