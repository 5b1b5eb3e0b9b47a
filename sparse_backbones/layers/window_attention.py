# Copyright (c) sparse_backbones contributors. All rights reserved.
"""(Shifted) window attention with relative position bias, as in Swin.

`Swin Transformer <https://arxiv.org/abs/2103.14030>`_. Parameter and
buffer names are those of mmpretrain's ``WindowMSA`` and ``ShiftWindowMSA``
(``w_msa.relative_position_bias_table``, ``w_msa.relative_position_index``,
``w_msa.qkv``, ``w_msa.proj``), so its Swin checkpoints load unchanged.

Unlike mmpretrain's ``ShiftWindowMSA``, cutting the map into windows
(:meth:`ShiftWindowMSA.partition`) and putting it back
(:meth:`ShiftWindowMSA.reverse`) are separate steps, so that a block can
run more than the attention (LTM's merging) in the window layout.
"""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import multi_head_attention


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, Hp, Wp, C) -> (B * nW, ws * ws, C), image-major, windows in
    raster order; Hp and Wp must be multiples of the window."""
    B, Hp, Wp, C = x.shape
    ws = window_size
    x = x.view(B, Hp // ws, ws, Wp // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, C)


def window_reverse(windows: torch.Tensor, window_size: int,
                   padded_shape: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: -> (B, Hp, Wp, C)."""
    Hp, Wp = padded_shape
    ws = window_size
    C = windows.shape[-1]
    x = windows.view(-1, Hp // ws, Wp // ws, ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, Hp, Wp, C)


def shift_window_mask(padded_shape: Tuple[int, int],
                      window_size: int,
                      shift_size: int,
                      device: Optional[torch.device] = None) -> torch.Tensor:
    """(nW, N, N) additive mask keeping the regions of cyclically shifted
    windows apart: -100 between tokens of different regions, 0 otherwise
    (Swin's values, which its checkpoints were trained with).

    Args:
        padded_shape (tuple[int, int]): (Hp, Wp), multiples of the window.
        window_size (int): Window side ws.
        shift_size (int): The cyclic shift, in (0, ws).
        device (torch.device, optional): Where to build the mask.
    """
    Hp, Wp = padded_shape
    ws = window_size
    # Region id of each row/column after the shift: 0 for the unshifted
    # part, 1 and 2 for the two strips that wrapped around.
    rows = torch.zeros(Hp, device=device)
    rows[Hp - ws:Hp - shift_size], rows[Hp - shift_size:] = 1, 2
    cols = torch.zeros(Wp, device=device)
    cols[Wp - ws:Wp - shift_size], cols[Wp - shift_size:] = 1, 2
    region = (rows[:, None] * 3 + cols[None, :])[None, :, :, None]
    ids = window_partition(region, ws)[..., 0]  # (nW, N)
    different = ids[:, :, None] != ids[:, None, :]
    return different.float() * -100.0


def relative_position_index(window_size: int) -> torch.Tensor:
    """(N, N) index of every (query, key) offset in the bias table, in
    mmpretrain's layout (its checkpoints index the table so)."""
    coords = torch.arange(window_size)
    seq = ((2 * window_size - 1) * coords[:, None] +
           coords[None, :]).reshape(1, -1)
    return (seq + seq.T).flip(1).contiguous()


class WindowMSA(nn.Module):
    """Multi-head self-attention inside windows, with relative position
    bias.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        window_size (int): Window side.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 window_size: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        self.register_buffer('relative_position_index',
                             relative_position_index(window_size))
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def position_bias(self) -> torch.Tensor:
        """(heads, N, N) relative position bias."""
        N = self.window_size**2
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(N, N, -1)
        return bias.permute(2, 0, 1)

    def forward(self,
                x: torch.Tensor,
                batch_size: int,
                shift_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attention inside each window.

        Args:
            x (Tensor): (B * nW, N, C) windows, image-major.
            batch_size (int): B.
            shift_mask (Tensor, optional): (nW, N, N) additive mask that
                keeps shifted windows' regions apart.

        Returns:
            Tensor: (B * nW, N, C).
        """
        B_, N, C = x.shape
        h = self.num_heads
        # (B', N, 3C) -> 3 x (B', h, N, d)
        q, k, v = self.qkv(x).reshape(B_, N, 3, h, C // h).permute(
            2, 0, 3, 1, 4).unbind(0)
        bias = self.position_bias().unsqueeze(0)  # (1, h, N, N)
        nW = 1
        if shift_mask is not None:
            bias = bias + shift_mask.unsqueeze(1)  # (nW, h, N, N)
            nW = B_ // batch_size
        # Fold the windows into the head axis so that the (nW, h) bias
        # broadcasts over the images: (B, nW * h, N, d).
        q, k, v = (t.reshape(B_ // nW, nW * h, N, C // h) for t in (q, k, v))
        out = multi_head_attention(q, k, v, bias=bias.reshape(1, nW * h, N, N))
        out = out.reshape(B_, h, N, C // h)
        # (B', h, N, d) -> (B', N, C)
        return self.proj(out.transpose(1, 2).reshape(B_, N, C))


@dataclass
class WindowLayout:
    """How a (B, H*W, C) map was cut into windows."""
    batch_size: int
    hw_shape: Tuple[int, int]
    padded_shape: Tuple[int, int]
    shift_size: int
    # (B * nW, N) bool, False on padding; None when nothing is padded.
    valid: Optional[torch.Tensor]
    # (nW, N, N) additive mask of shifted windows; None without a shift.
    shift_mask: Optional[torch.Tensor]


class ShiftWindowMSA(nn.Module):
    """Shifted-window partitioning around :class:`WindowMSA` (its child
    ``w_msa``, as in mmpretrain's ``ShiftWindowMSA``).

    Maps are padded with zeros at the bottom and right to a multiple of the
    window (as Swin does for dense prediction); the shift is skipped when
    the map fits in one window, as the original Swin (and mmpretrain's
    classification setting) does for a 7 x 7 map.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        window_size (int): Window side.
        shift (bool): Shift the windows by half a window.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int,
                 shift: bool) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.w_msa = WindowMSA(embed_dims, num_heads, window_size)

    def effective_shift(self, hw_shape: Tuple[int, int]) -> int:
        """The shift used on a ``hw_shape`` map: none if it fits in one
        window."""
        return self.shift_size if max(hw_shape) > self.window_size else 0

    def _cut(self, x: torch.Tensor, shift_size: int) -> torch.Tensor:
        """(B, Hp, Wp, C) -> shifted windows (B * nW, N, C)."""
        if shift_size:
            x = torch.roll(x, (-shift_size, ) * 2, dims=(1, 2))
        return window_partition(x, self.window_size)

    def partition(
            self, x: torch.Tensor,
            hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, WindowLayout]:
        """Pad, shift and cut (B, H*W, C) tokens into windows."""
        B, L, C = x.shape
        H, W = hw_shape
        ws = self.window_size
        Hp, Wp = math.ceil(H / ws) * ws, math.ceil(W / ws) * ws
        shift = self.effective_shift(hw_shape)
        layout = WindowLayout(B, (H, W), (Hp, Wp), shift, None, None)
        x = x.view(B, H, W, C)
        if (Hp, Wp) != (H, W):
            x = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
            image = torch.zeros(1, Hp, Wp, 1, device=x.device)
            image[:, :H, :W] = 1
            valid = self._cut(image, shift)[..., 0] > 0  # (nW, N)
            layout.valid = valid.repeat(B, 1)
        if shift:
            layout.shift_mask = shift_window_mask((Hp, Wp), ws, shift,
                                                  x.device)
        return self._cut(x, shift), layout

    def reverse(self, windows: torch.Tensor,
                layout: WindowLayout) -> torch.Tensor:
        """Inverse of :meth:`partition`: (B * nW, N, C) -> (B, H*W, C)."""
        H, W = layout.hw_shape
        x = window_reverse(windows, self.window_size, layout.padded_shape)
        if layout.shift_size:
            x = torch.roll(x, (layout.shift_size, ) * 2, dims=(1, 2))
        return x[:, :H, :W].reshape(layout.batch_size, H * W, -1)

    def forward(self, windows: torch.Tensor,
                layout: WindowLayout) -> torch.Tensor:
        """Attention of windows cut by :meth:`partition`."""
        return self.w_msa(windows, layout.batch_size, layout.shift_mask)
