# Copyright (c) sparse_backbones contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn

from .fused import FusedLinear


class Mlp(nn.Module):
    """Linear -> GELU -> Linear feed-forward network on tokens.

    Args:
        in_features (int): Input channels.
        hidden_features (int, optional): Hidden channels. Defaults to
            ``in_features``.
        out_features (int, optional): Output channels. Defaults to
            ``in_features``.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: Optional[int] = None,
                 out_features: Optional[int] = None) -> None:
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def switch_to_deploy(self) -> None:
        """Fuse ``fc1`` with its GELU (see :mod:`.fused`)."""
        if type(self.fc1) is nn.Linear and type(self.act) is nn.GELU:
            self.fc1 = FusedLinear.from_linear(self.fc1, 'gelu')
            self.act = nn.Identity()
