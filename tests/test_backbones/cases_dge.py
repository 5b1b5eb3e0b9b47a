# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Contract-test cases of the DGE backbones (see cases.py)."""
from ._case import Case  # noqa: F401

CASES = []
