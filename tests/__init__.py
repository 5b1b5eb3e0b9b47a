# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Tests, one folder per subject: a subpackage of sparse_backbones
(``test_layers`` ... ``test_visualization``), ``tools/`` (``test_tools``),
``configs/`` (``test_configs``) and the package as a whole
(``test_package``)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPO_ROOT = str(REPO)
