# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Patch embedding: a strided convolution over bottom/right-padded images.

The designs whose checkpoints name it ``proj`` (DGE, LIT) use this one; LTM
keeps mmcv's ``PatchEmbed`` (``projection``), whose keys mmpretrain's ViT and
Swin checkpoints carry.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .shape import nchw_to_nlc


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad (B, C, H, W) on the bottom/right to multiples of
    ``multiple``; returns ``x`` itself when nothing is needed (``F.pad``
    would still copy)."""
    H, W = x.shape[-2:]
    if H % multiple == 0 and W % multiple == 0:
        return x
    return F.pad(x, (0, -W % multiple, 0, -H % multiple))


class PatchEmbed(nn.Module):
    """(B, C_in, H, W) -> (B, ceil(H/p) * ceil(W/p), C) tokens and the grid.

    Args:
        in_channels (int): Image (or map) channels.
        embed_dims (int): Token channels C.
        patch_size (int): Kernel and stride p.
        norm_eps (float, optional): LayerNorm epsilon of a norm after the
            projection; None for no norm. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 patch_size: int,
                 norm_eps: Optional[float] = None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(
            in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = None if norm_eps is None else nn.LayerNorm(
            embed_dims, eps=norm_eps)

    def forward(self,
                x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.proj(pad_to_multiple(x, self.patch_size))
        hw_shape = tuple(x.shape[2:])
        x = nchw_to_nlc(x)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw_shape
