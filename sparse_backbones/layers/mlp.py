# Copyright (c) sparse_backbones contributors. All rights reserved.
from typing import Optional

import torch
import torch.nn as nn

from .linear import linear


class Mlp(nn.Module):
    """Linear -> GELU -> Linear feed-forward network on tokens.

    Args:
        in_features (int): Input channels.
        hidden_features (int, optional): Hidden channels. Defaults to
            ``in_features``.
        out_features (int, optional): Output channels. Defaults to
            ``in_features``.
        fused (bool): Allow the fused inference kernels of
            :func:`~sparse_backbones.layers.linear`. Defaults to True.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: Optional[int] = None,
                 out_features: Optional[int] = None,
                 fused: bool = True) -> None:
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fused = fused
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = linear(x, self.fc1, 'gelu', fused=self.fused)
        return linear(x, self.fc2, fused=self.fused)
