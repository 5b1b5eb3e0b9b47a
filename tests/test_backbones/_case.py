# Copyright (c) sparse_backbones contributors. All rights reserved.
from dataclasses import dataclass, field
from typing import Sequence, Tuple


@dataclass
class Case:
    """A small config of one backbone for the contract tests."""
    name: str
    cfg: dict
    strides: Tuple[int, ...] = (4, 8, 16, 32)
    # Parameters allowed to get no gradient (e.g. non-differentiable gates).
    allowed_unused: Sequence[str] = field(default_factory=tuple)
    # Extra cfg giving a classification (pooled) output, if supported.
    cls_cfg: dict = field(default_factory=dict)
