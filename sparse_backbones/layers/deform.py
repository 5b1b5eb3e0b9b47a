# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Deformable convolution (DCNv1) and LIT's Deformable Token Merging.

The fast path is, on CPU, ``F.grid_sample`` and one oneDNN matrix product,
elsewhere ``torchvision.ops.deform_conv2d``; the reference is plain PyTorch
bilinear sampling (gathers) followed by a matrix product, kept as the test
oracle.
Both follow the DCN convention of the official LIT kernels: offsets are
interleaved ``(dy, dx)`` per kernel point in row-major kernel order, and
bilinear samples read 0 outside the map.
"""
import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import deform_conv2d as _tv_deform_conv2d

from .complexity import register_flop_formula
from .fused import onednn_linear
from .precision import float32_under_autocast

_pair = nn.modules.utils._pair


def _bilinear_sample(x: torch.Tensor, pos_y: torch.Tensor,
                     pos_x: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` (B, C, H, W) at fractional positions (B, P).

    Each of the four neighbours outside the map contributes 0, so a point
    at or beyond one pixel outside the map reads 0 (the DCN rule).

    Returns:
        Tensor: (B, C, P).
    """
    B, C, H, W = x.shape
    flat = x.flatten(2)
    y0, x0 = pos_y.floor(), pos_x.floor()
    out = x.new_zeros(B, C, pos_y.shape[1])
    for corner_y, weight_y in ((y0, y0 + 1 - pos_y), (y0 + 1, pos_y - y0)):
        for corner_x, weight_x in ((x0, x0 + 1 - pos_x), (x0 + 1, pos_x - x0)):
            inside = (corner_y >= 0) & (corner_y < H) & (corner_x >= 0) & (
                corner_x < W)
            index = (corner_y.clamp(0, H - 1) * W +
                     corner_x.clamp(0, W - 1)).long()
            values = flat.gather(2, index[:, None].expand(-1, C, -1))
            out = out + values * (weight_y * weight_x * inside)[:, None]
    return out


def _sampling_positions(offset: torch.Tensor, kernel_size: Tuple[int, int],
                        stride, padding,
                        dilation) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, K, Ho, Wo) rows and columns ``p0 + p_k + offset_k(p0)``."""
    B, _, out_h, out_w = offset.shape
    kh, kw = kernel_size
    (sh, sw), (ph, pw), (dh, dw) = map(_pair, (stride, padding, dilation))
    # (B, 2K, Ho, Wo) -> (B, K, Ho, Wo) each for dy and dx
    dy, dx = offset.reshape(B, kh * kw, 2, out_h, out_w).unbind(2)
    ky = (torch.arange(kh, device=offset.device) * dh).repeat_interleave(kw)
    kx = (torch.arange(kw, device=offset.device) * dw).repeat(kh)
    grid_y = torch.arange(out_h, device=offset.device) * sh - ph
    grid_x = torch.arange(out_w, device=offset.device) * sw - pw
    pos_y = grid_y.view(1, 1, -1, 1) + ky.view(1, -1, 1, 1) + dy
    pos_x = grid_x.view(1, 1, 1, -1) + kx.view(1, -1, 1, 1) + dx
    return pos_y, pos_x


def _deform_conv2d_sampled(x: torch.Tensor, pos_y: torch.Tensor,
                           pos_x: torch.Tensor, weight: torch.Tensor,
                           bias: torch.Tensor) -> torch.Tensor:
    """The CPU fast path: ``F.grid_sample`` (bilinear, zeros outside: the
    DCN rule) gathers every kernel point at the (B, K, Ho, Wo) positions of
    :func:`_sampling_positions`, one oneDNN product applies the weights.
    2-3x faster than torchvision's CPU kernel on LIT's DTMs."""
    H, W = x.shape[2:]
    B, _, out_h, out_w = pos_y.shape
    out_channels = weight.shape[0]
    # Pixel to grid_sample's [-1, 1] (align_corners=False, so 1-pixel
    # sides work): (2p + 1) / size - 1. (B, K, Ho, Wo) -> (B, P, K, 2).
    grid = torch.stack(((2 * pos_x + 1) / W - 1, (2 * pos_y + 1) / H - 1),
                       dim=-1).permute(0, 2, 3, 1, 4).flatten(1, 2)
    samples = F.grid_sample(
        x.to(grid.dtype),
        grid,
        mode='bilinear',
        padding_mode='zeros',
        align_corners=False)
    # (B, C, P, K) -> (B, P, C * K), the order of weight's (C, kh, kw).
    samples = samples.transpose(1, 2).flatten(2)
    out = onednn_linear(samples, weight.reshape(out_channels, -1), bias)
    return out.view(B, out_h, out_w, out_channels).permute(0, 3, 1, 2)


def deform_conv2d_reference(x: torch.Tensor,
                            offset: torch.Tensor,
                            weight: torch.Tensor,
                            bias: torch.Tensor = None,
                            stride: int = 1,
                            padding: int = 0,
                            dilation: int = 1) -> torch.Tensor:
    """DCNv1 in plain PyTorch: the oracle of :func:`deform_conv2d`.

    ``Y(p0) = sum_k W_k X(p0 + p_k + offset_k(p0)) + b`` with bilinear
    sampling, for one weight group and one offset group.
    """
    B, C, H, W = x.shape
    out_channels, _, kh, kw = weight.shape
    out_h, out_w = offset.shape[2:]
    K = kh * kw
    pos_y, pos_x = _sampling_positions(offset, (kh, kw), stride, padding,
                                       dilation)
    samples = _bilinear_sample(x, pos_y.flatten(1), pos_x.flatten(1))
    # (B, C, K, Ho*Wo) x (Cout, C*K) -> (B, Cout, Ho*Wo)
    out = weight.reshape(out_channels, C * K) @ samples.reshape(
        B, C * K, out_h * out_w)
    if bias is not None:
        out = out + bias.view(1, -1, 1)
    return out.reshape(B, out_channels, out_h, out_w)


def deform_conv2d(x: torch.Tensor,
                  offset: torch.Tensor,
                  weight: torch.Tensor,
                  bias: torch.Tensor = None,
                  stride: int = 1,
                  padding: int = 0,
                  dilation: int = 1) -> torch.Tensor:
    """Deformable convolution v1 (no modulation mask).

    Args:
        x (Tensor): (B, C, H, W) input.
        offset (Tensor): (B, 2 * kh * kw, Ho, Wo) sampling offsets,
            ``(dy, dx)`` per kernel point in row-major kernel order.
        weight (Tensor): (C_out, C, kh, kw).
        bias (Tensor, optional): (C_out,).
        stride, padding, dilation (int | tuple[int, int]): As in
            ``F.conv2d``.

    On CPU it runs :func:`_deform_conv2d_sampled` (3x torchvision's CPU
    kernel on LIT's DTMs), elsewhere ``torchvision.ops.deform_conv2d``;
    :func:`deform_conv2d_reference` is the oracle both are tested against.

    Returns:
        Tensor: (B, C_out, Ho, Wo).
    """
    kh, kw = weight.shape[2:]
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f'weight of shape {tuple(weight.shape)} expects '
                         f'{weight.shape[1]} input channels, got '
                         f'{x.shape[1]} (grouped convolution is not '
                         f'supported)')
    if offset.shape[1] != 2 * kh * kw:
        raise ValueError(f'offset needs 2 * {kh} * {kw} = {2 * kh * kw} '
                         f'channels (one (dy, dx) pair per kernel point, '
                         f'one offset group), got {offset.shape[1]}')
    if x.device.type == 'cpu':
        return _deform_conv2d_sampled(
            x, *_sampling_positions(offset, (kh, kw), stride, padding,
                                    dilation), weight, bias)
    return _tv_deform_conv2d(
        x,
        offset,
        weight,
        bias,
        stride=_pair(stride),
        padding=_pair(padding),
        dilation=_pair(dilation))


def deform_conv2d_macs(batch: int,
                       in_channels: int,
                       out_channels: int,
                       kernel_size: Tuple[int, int],
                       out_size: Tuple[int, int],
                       groups: int = 1) -> int:
    """Multiply-adds of one deformable convolution, sampling included.

    The convolution proper costs ``C_out * C / groups * kh * kw`` per
    output location, as a regular convolution; bilinear sampling costs 4
    more per sampled value (one per neighbour), ``C * kh * kw`` values per
    location. The offset-predicting convolution is a regular layer, counted
    apart.
    """
    locations = batch * out_size[0] * out_size[1]
    taps = kernel_size[0] * kernel_size[1]
    return locations * taps * in_channels * (out_channels // groups + 4)


@register_flop_formula(torch.ops.aten.grid_sampler_2d)
def _grid_sample_flops(input_shape, grid_shape, *args, **kwargs) -> int:
    # Bilinear: 4 multiply-adds per sampled value, as deform_conv2d_macs
    # counts the sampling (the only grid_sample of this package).
    return 2 * 4 * input_shape[0] * input_shape[1] * grid_shape[1] * \
        grid_shape[2]


@register_flop_formula(torch.ops.torchvision.deform_conv2d)
def _deform_conv2d_flops(input_shape, weight_shape, offset_shape, mask_shape,
                         bias_shape, stride_h, stride_w, pad_h, pad_w,
                         dilation_h, dilation_w, groups, *args,
                         **kwargs) -> int:
    # Positional as in the op's schema; torch's counter wants FLOPs, 2 per
    # multiply-add.
    return 2 * deform_conv2d_macs(input_shape[0], input_shape[1],
                                  weight_shape[0], weight_shape[2:],
                                  offset_shape[2:], groups)


class DeformConv2d(nn.Module):
    """A deformable convolution that predicts its own offsets.

    The offsets come from a plain convolution ``conv_offset`` with the same
    kernel, stride and padding, initialised to zero, so at initialisation
    the layer is a regular convolution (official ``DeformConv2dPack``).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Square kernel side.
        stride (int): Stride. Defaults to 1.
        padding (int): Zero padding. Defaults to 0.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.stride = stride
        self.padding = padding
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.conv_offset = nn.Conv2d(
            in_channels,
            2 * kernel_size * kernel_size,
            kernel_size,
            stride=stride,
            padding=padding)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Official DCN init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), zero bias.
        bound = 1 / math.sqrt(self.weight[0].numel())
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # float32 under autocast: positions past 2048 px would lose whole
        # pixels in float16, and the bilinear weights their bits earlier.
        region, x_offset = float32_under_autocast(x)
        with region:
            offset = self.conv_offset(x_offset)
        return deform_conv2d(
            x,
            offset,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding)


class DeformableTokenMerging(nn.Module):
    """LIT's Deformable Token Merging (DTM): 2x downsampling of a map.

    A 2x2/stride-2 :class:`DeformConv2d` (8 offsets per output location),
    BatchNorm and GELU. Odd sides are zero-padded at the bottom/right first,
    so the output is ``ceil(H / 2) x ceil(W / 2)``; with the DCN rule that
    samples outside the map read 0 this equals sampling the unpadded map.

    Args:
        in_dims (int): Input channels.
        out_dims (int): Output channels.
    """

    def __init__(self,
                 in_dims: int,
                 out_dims: int) -> None:
        super().__init__()
        self.dconv = DeformConv2d(in_dims, out_dims, kernel_size=2, stride=2)
        self.norm = nn.BatchNorm2d(out_dims)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[2:]
        if H % 2 or W % 2:
            x = F.pad(x, (0, W % 2, 0, H % 2))
        return self.act(self.norm(self.dconv(x)))
