# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Contract-test cases of the LIT backbones (see cases.py): one per layout,
absolute position embeddings (LIT-Ti) and relative position bias
(LIT-S/M/B)."""
from ._case import Case


def _lit(position: str) -> dict:
    return dict(
        type='sparse_backbones.LIT',
        arch=dict(
            embed_dims=[16, 32, 48, 64],
            depths=[1, 2, 1, 1],
            num_heads=[1, 1, 2, 2],
            mlp_ratios=[2, 2, 2, 2],
            position=position),
        # small tables and embeddings; other sizes are resized to
        pretrain_img_size=64,
        drop_path_rate=0.1)


CASES = [
    Case('LIT', _lit('absolute'), cls_cfg=dict(out_type='avg_featmap')),
    Case('LIT', _lit('relative'), cls_cfg=dict(out_type='avg_featmap')),
]
