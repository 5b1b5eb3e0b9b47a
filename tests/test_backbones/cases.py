# Copyright (c) sparse_backbones contributors. All rights reserved.
"""One small configuration per registered backbone, for the contract tests.

A backbone registered by the package without a case here fails
``test_every_backbone_has_a_case``, so new designs are covered on arrival.
"""
from dataclasses import dataclass, field
from typing import Sequence, Tuple


@dataclass
class Case:
    name: str
    cfg: dict
    strides: Tuple[int, ...] = (4, 8, 16, 32)
    # Parameters allowed to get no gradient (e.g. non-differentiable gates).
    allowed_unused: Sequence[str] = field(default_factory=tuple)
    # Extra cfg giving a classification (pooled) output, if supported.
    cls_cfg: dict = field(default_factory=dict)


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
