# Copyright (c) sparse_backbones contributors. All rights reserved.
"""One small configuration per registered backbone, for the contract tests.

A backbone registered by the package without a case here fails
``test_every_backbone_has_a_case``, so new designs are covered on arrival.
Each design keeps its cases in ``cases_<design>.py``.
"""
from .cases_dge import CASES as DGE_CASES
from .cases_lemevit import CASES as LEMEVIT_CASES
from .cases_lit import CASES as LIT_CASES
from .cases_ltm import CASES as LTM_CASES

CASES = LEMEVIT_CASES + DGE_CASES + LIT_CASES + LTM_CASES
