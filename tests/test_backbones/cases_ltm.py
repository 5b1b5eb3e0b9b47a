# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Contract-test cases of the LTM backbones (see cases.py).

LTMViT is a plain ViT: a stage is one block (mmpretrain's
``VisionTransformer``), each returning a stride-16 map, so its strides are
all 16. Its tiny arch has 4 blocks (one per keep-ratio group, so each block
has its own ratio) and a 64 px position embedding, so every test size
interpolates it. LTMSwin's tiny arch has two blocks per stage (a shifted
block that receives the first block's mask) and the default 7 x 7 windows,
so 64 px inputs pad every stage's map.
"""
from ._case import Case

CASES = [
    Case(
        'LTMViT',
        dict(
            type='sparse_backbones.LTMViT',
            arch=dict(
                embed_dims=32,
                num_layers=4,
                num_heads=2,
                feedforward_channels=64),
            img_size=64,
            keep_ratios=(0.75, 0.5, 0.75, 0.3),
            drop_path_rate=0.1),
        strides=(16, 16, 16, 16),
        cls_cfg=dict(out_type='cls_token')),
    Case(
        'LTMSwin',
        dict(
            type='sparse_backbones.LTMSwin',
            arch=dict(
                embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
            drop_path_rate=0.1),
        cls_cfg=dict(out_type='avg_featmap')),
]
