# Copyright (c) sparse_backbones contributors. All rights reserved.
"""One small configuration per registered backbone, for the contract tests.

A backbone registered by the package without a case here fails
``test_every_backbone_has_a_case``, so new designs are covered on arrival.
Each design keeps its cases in ``cases_<design>.py``.
"""
from ._case import Case
from .cases_dge import CASES as DGE_CASES
from .cases_lit import CASES as LIT_CASES
from .cases_ltm import CASES as LTM_CASES

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
] + DGE_CASES + LIT_CASES + LTM_CASES
