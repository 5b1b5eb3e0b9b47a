# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Position-embedding resizing, as the hosts do it."""
from typing import Sequence

import torch
import torch.nn.functional as F

from .shape import nchw_to_nlc, nlc_to_nchw


def resize_pos_embed(pos_embed: torch.Tensor,
                     src_shape: Sequence[int],
                     dst_shape: Sequence[int],
                     mode: str = 'bicubic',
                     num_extra_tokens: int = 1) -> torch.Tensor:
    """Resize a (1, E + h*w, C) position embedding to a (H, W) grid.

    The first ``num_extra_tokens`` entries (class token, ...) are kept as
    they are and the grid is interpolated with ``align_corners=False``, as
    mmpretrain's ``resize_pos_embed`` does. Returns the input itself when the
    grid already has ``dst_shape``, so the common case costs nothing.

    Args:
        pos_embed (Tensor): (1, E + h*w, C).
        src_shape (Sequence[int]): The (h, w) grid ``pos_embed`` was made
            for.
        dst_shape (Sequence[int]): The (H, W) grid wanted.
        mode (str): ``F.interpolate`` mode: ``'bicubic'`` (ViT hosts) or
            ``'bilinear'`` (official LIT-Ti). Defaults to ``'bicubic'``.
        num_extra_tokens (int): Leading non-grid entries. Defaults to 1.

    Returns:
        Tensor: (1, E + H*W, C).
    """
    src_shape, dst_shape = tuple(src_shape), tuple(dst_shape)
    expected = num_extra_tokens + src_shape[0] * src_shape[1]
    if pos_embed.shape[1] != expected:
        raise ValueError(
            f'position embedding has {pos_embed.shape[1]} entries, but a '
            f'{src_shape[0]}x{src_shape[1]} grid with {num_extra_tokens} '
            f'extra tokens needs {expected}')
    if src_shape == dst_shape:
        return pos_embed
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:,
                                                             num_extra_tokens:]
    grid = F.interpolate(
        nlc_to_nchw(grid, src_shape),
        size=dst_shape,
        mode=mode,
        align_corners=False)
    return torch.cat([extra, nchw_to_nlc(grid)], dim=1)
