# Copyright (c) sparse_backbones contributors. All rights reserved.
from typing import Tuple

import torch


def nlc_to_nchw(x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
    """(B, H*W, C) tokens -> (B, C, H, W) view in channels-last memory."""
    H, W = hw_shape
    B, N, C = x.shape
    if N != H * W:
        raise ValueError(f'{N} tokens do not form a {H}x{W} grid')
    return x.transpose(1, 2).reshape(B, C, H, W)


def nchw_to_nlc(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> contiguous (B, H*W, C); free when x is channels-last.

    Made contiguous here, once, because a transposed view would otherwise
    travel through the residual adds and make every LayerNorm copy it.
    """
    return x.flatten(2).transpose(1, 2).contiguous()
