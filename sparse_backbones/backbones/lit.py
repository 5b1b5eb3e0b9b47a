# Copyright (c) sparse_backbones contributors. All rights reserved.
# Re-implemented from https://github.com/ziplab/LIT (Apache License 2.0)
"""LIT: Less-attention vision transformers.

`Less is More: Pay Less Attention in Vision Transformers
<https://arxiv.org/abs/2105.14217>`_ (Z. Pan, B. Zhuang, H. He, J. Liu,
J. Cai; AAAI 2022).

Stages 1-2 use MLP-only blocks (no token mixing), stages 3-4 global
multi-head self-attention; a 4x4 patch embedding starts stage 1 and a
Deformable Token Merging (DTM, a 2x2/stride-2 deformable convolution with
BatchNorm and GELU) starts each later stage. The two official code bases
are both covered:

- ``position='absolute'`` (LIT-Ti, PVT-S layout): a learned absolute
  position embedding per stage, bilinearly resized to the actual grid, and,
  for classification only, a cls token prepended in stage 4; LayerNorm eps
  1e-6 in the blocks.
- ``position='relative'`` (LIT-S/M/B, Swin layout): a learned relative
  position bias over the whole feature map in every attention block, its
  table bicubically resized to the actual grid at run time; LayerNorm eps
  1e-5.

Layout: ``stages[i]`` holds, in order, the DTM (``downsample``, i > 0),
the position embedding (``pos_embed``), the cls token (stage 4,
classification), the blocks and the norm of the dense output
(``out_norm``). Dense outputs are taken after the blocks, before the next
DTM, as upstream. :func:`~sparse_backbones.converters.convert_lit` maps the
official checkpoints.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger
from torch.nn.init import trunc_normal_

from ..layers import (Attention, DeformableTokenMerging, Mlp, drop_path_rates,
                      linear, merge_heads, multi_head_attention, nchw_to_nlc,
                      nlc_to_nchw)
from ..registry import MODELS, register_module
from .base import BaseSparseBackbone

ABSOLUTE = 'absolute'  # LIT-Ti: PVT-style absolute position embeddings
RELATIVE = 'relative'  # LIT-S/M/B: Swin-style relative position bias
# Stages with global self-attention; the others use MLP-only blocks.
ATTENTION_STAGES = (2, 3)
# Logits per query chunk of :func:`relative_position_attention`: 16 MB
# stay in L3 between the products and the softmax. Chunks of 64 MB ran
# 2x slower (2-core EPYC; 64 x 64 and 32 x 32 maps, 12 heads).
CPU_CHUNK_LOGITS = 2**22


def grid_size(image_size: int, stride: int) -> int:
    """Side of the token grid of a square image at ``stride`` (padded)."""
    return math.ceil(image_size / stride)


def relative_position_index(hw_shape: Tuple[int, int],
                            device=None) -> torch.Tensor:
    """(N, N) row of ``(dy, dx)`` in a ``(2H-1) x (2W-1)`` bias table.

    Swin's formula on the whole H x W grid: row
    ``(dy + H - 1) * (2W - 1) + dx + W - 1`` for token pair (i, j) with
    ``(dy, dx) = p_i - p_j``.
    """
    H, W = hw_shape
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(H, device=device),
            torch.arange(W, device=device),
            indexing='ij')).flatten(1)
    relative = coords[:, :, None] - coords[:, None, :]
    return (relative[0] + H - 1) * (2 * W - 1) + relative[1] + W - 1


def resize_pos_embed(pos_embed: torch.Tensor, src_hw: Tuple[int, int],
                     dst_hw: Tuple[int, int]) -> torch.Tensor:
    """Bilinearly resize a (1, H*W, C) position embedding to ``dst_hw``.

    Official LIT-Ti (detection/segmentation) does this at every forward.
    """
    if tuple(src_hw) == tuple(dst_hw):
        return pos_embed
    grid = nlc_to_nchw(pos_embed, src_hw)
    grid = F.interpolate(
        grid, size=dst_hw, mode='bilinear', align_corners=False)
    return nchw_to_nlc(grid)


def resize_bias_table(table: torch.Tensor, dst_hw: Tuple[int,
                                                         int]) -> torch.Tensor:
    """Bicubically resize a ((2R-1)^2, heads) bias table to dst_hw sides.

    Returns:
        Tensor: (heads, dst_h * dst_w), rows of the resized table.
    """
    side = math.isqrt(table.shape[0])
    grid = table.t().reshape(1, -1, side, side)
    if tuple(dst_hw) != (side, side):
        grid = F.interpolate(
            grid, size=dst_hw, mode='bicubic', align_corners=False)
    return grid.flatten(2)[0]


class RelPosAttention(Attention):
    """Global self-attention with a relative position bias over the whole
    feature map (official LIT-S/M/B ``RelPosAttention``).

    The learned table has ``(2R-1)^2`` rows for the R x R grid of the
    pretraining size; for an H x W map it is bicubically resized to
    ``(2H-1) x (2W-1)`` at run time, as the official dense models do.

    Args:
        embed_dims (int): Token channels.
        num_heads (int): Heads.
        table_side (int): ``2R - 1``.
        fused (bool): Fast paths: on CPU, :func:`relative_position_attention`
            (no (heads, N, N) bias is built); elsewhere SDPA with the
            gathered bias. False runs the reference: the gathered bias and
            the explicit products. Defaults to True.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 table_side: int,
                 fused: bool = True) -> None:
        super().__init__(embed_dims, num_heads, qkv_bias=True, fused=fused)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(table_side**2, num_heads))
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def table_rows(self, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """(heads, (2H-1) * (2W-1)) table resized for an H x W map."""
        H, W = hw_shape
        return resize_bias_table(self.relative_position_bias_table,
                                 (2 * H - 1, 2 * W - 1))

    def position_bias(self, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """(heads, N, N) bias for an H x W map, gathered through
        :func:`relative_position_index`."""
        table = self.relative_position_bias_table
        index = relative_position_index(hw_shape, table.device)
        # index_select: about 5x faster than rows[:, index] on CPU.
        return self.table_rows(hw_shape).index_select(
            1, index.flatten()).view(-1, *index.shape)

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        B, N, C = x.shape
        qkv = linear(
            x, self.qkv, fused=self.fused).reshape(B, N, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused and x.device.type == 'cpu':
            out = relative_position_attention(q, k, v,
                                              self.table_rows(hw_shape),
                                              hw_shape)
        else:
            out = multi_head_attention(
                q, k, v, bias=self.position_bias(hw_shape), fused=self.fused)
        return linear(merge_heads(out), self.proj, fused=self.fused)


def relative_position_attention(query: torch.Tensor, key: torch.Tensor,
                                value: torch.Tensor, table_rows: torch.Tensor,
                                hw_shape: Tuple[int, int]) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d) + bias) v`` with LIT's relative position
    bias, without building the (heads, N, N) bias or its index.

    ``bias[h, i, j] = table[h, y_i - y_j + H - 1, x_i - x_j + W - 1]``.
    With the queries in reverse raster order (``y' = H-1-y``,
    ``x' = W-1-x``) and the table flipped, this is ``flipped[h, y' + y_j,
    x' + x_j]``: a strided view of the small table, added in place to the
    logits. Queries run in chunks of whole grid rows, at most
    :data:`CPU_CHUNK_LOGITS` logits each, so memory stays flat on large
    maps (a 64 x 64 map has 200M logits per image). Per chunk these are the
    explicit products of :func:`~sparse_backbones.layers.
    multi_head_attention`, with the bias added as a view.

    Args:
        query, key, value (Tensor): (B, heads, H * W, d).
        table_rows (Tensor): (heads, (2H-1) * (2W-1)), see
            :meth:`RelPosAttention.table_rows`.
        hw_shape (tuple[int, int]): The grid (H, W).

    Returns:
        Tensor: (B, heads, H * W, d).
    """
    B, heads, N, d = query.shape
    H, W = hw_shape
    flipped = table_rows.view(heads, 2 * H - 1, 2 * W - 1).flip(1, 2)
    flipped = flipped.contiguous()
    bias = flipped.as_strided((heads, H, W, H, W),
                              (flipped.stride(0), 2 * W - 1, 1, 2 * W - 1, 1))
    query = query.flip(2) * d**-0.5
    rows_per_chunk = max(1, CPU_CHUNK_LOGITS // (B * heads * W * N))
    out = []
    for start in range(0, H, rows_per_chunk):
        stop = min(start + rows_per_chunk, H)
        attn = query[:, :, start * W:stop * W] @ key.transpose(-2, -1)
        attn.view(B, heads, stop - start, W, H, W).add_(bias[:, start:stop])
        out.append(attn.softmax(dim=-1) @ value)
    return torch.cat(out, dim=2).flip(2)


class MlpBlock(nn.Module):
    """x + DropPath(MLP(LN(x))): stages 1-2, no token mixing.

    The norm is called ``norm2`` as upstream (the MLP half of a transformer
    block), so checkpoint keys keep their names.
    """

    def __init__(self,
                 embed_dims: int,
                 mlp_ratio: float,
                 drop_path: float,
                 norm_eps: float,
                 fused: bool = True) -> None:
        super().__init__()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), fused=fused)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm2(x)))


class AttentionBlock(MlpBlock):
    """Pre-norm transformer block with global self-attention (stages 3-4),
    absolute (plain :class:`Attention`) or relative
    (:class:`RelPosAttention`, when ``table_side`` is given)."""

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float,
                 drop_path: float,
                 norm_eps: float,
                 table_side: Optional[int] = None,
                 fused: bool = True) -> None:
        super().__init__(embed_dims, mlp_ratio, drop_path, norm_eps, fused)
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        if table_side is None:
            self.attn = Attention(embed_dims, num_heads, fused=fused)
        else:
            self.attn = RelPosAttention(embed_dims, num_heads, table_side,
                                        fused)

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        if isinstance(self.attn, RelPosAttention):
            x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        else:
            x = x + self.drop_path(self.attn(self.norm1(x)))
        return super().forward(x, hw_shape)


class PatchEmbed(nn.Module):
    """Conv 4x4/4 + LayerNorm; sides are zero-padded at the bottom/right to
    multiples of 4 first, as the official dense models do."""

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 patch_size: int = 4) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(
            in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[2:]
        pad_h, pad_w = -H % self.patch_size, -W % self.patch_size
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        hw_shape = x.shape[2:]
        return nlc_to_nchw(self.norm(nchw_to_nlc(x)), hw_shape)


class LITStage(nn.Module):
    """DTM, position information, blocks and output norm of one stage.

    Args:
        blocks (list[nn.Module]): The stage's blocks.
        downsample (nn.Module, optional): DTM from the previous stage.
        pos_grid (tuple[int, int], optional): Grid of the learned absolute
            position embedding (absolute layout only).
        cls_token (bool): Prepend a cls token (LIT-Ti classification).
        out_norm (nn.Module, optional): Norm of the dense output.
    """

    def __init__(self,
                 blocks: List[nn.Module],
                 embed_dims: int,
                 downsample: Optional[nn.Module] = None,
                 pos_grid: Optional[Tuple[int, int]] = None,
                 cls_token: bool = False,
                 out_norm: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.downsample = downsample
        self.pos_grid = pos_grid
        if pos_grid is not None:
            self.pos_embed = nn.Parameter(
                torch.zeros(1, pos_grid[0] * pos_grid[1], embed_dims))
            trunc_normal_(self.pos_embed, std=.02)
        if cls_token:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
            # The cls row of the official stage-4 position embedding.
            self.cls_pos_embed = nn.Parameter(torch.zeros(1, 1, embed_dims))
            trunc_normal_(self.cls_token, std=.02)
            trunc_normal_(self.cls_pos_embed, std=.02)
        self.has_cls_token = cls_token
        self.blocks = nn.ModuleList(blocks)
        self.out_norm = out_norm

    def forward(self, x: torch.Tensor,
                run_block) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """(B, C, H, W) map -> ((B, N, C') tokens, (H', W'))."""
        if self.downsample is not None:
            x = self.downsample(x)
        hw_shape = tuple(x.shape[2:])
        x = nchw_to_nlc(x)
        if self.pos_grid is not None:
            x = x + resize_pos_embed(self.pos_embed, self.pos_grid, hw_shape)
        if self.has_cls_token:
            cls_token = self.cls_token + self.cls_pos_embed
            x = torch.cat([cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        for block in self.blocks:
            x = run_block(block, x, hw_shape)
        return x, hw_shape


@register_module(MODELS)
class LIT(BaseSparseBackbone):
    """LIT backbone for classification, detection and segmentation.

    Args:
        arch (str | dict): ``'ti'``, ``'s'``, ``'m'``, ``'b'`` (or
            ``'tiny'``, ``'small'``, ``'medium'``, ``'base'``), or a dict
            with keys:

            - **embed_dims** (Sequence[int]): widths of the 4 stages.
            - **depths** (Sequence[int]): blocks per stage.
            - **num_heads** (Sequence[int]): heads per stage (stages 3-4
              use them).
            - **mlp_ratios** (Sequence[float]): MLP expansion per stage.
            - **position** (str): ``'absolute'`` (LIT-Ti layout) or
              ``'relative'`` (LIT-S/M/B layout).
        in_channels (int): Input image channels. Defaults to 3.
        pretrain_img_size (int): Square image size the position
            embeddings / bias tables are learned for; other sizes are
            handled by resizing them at run time. Defaults to 224.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0 over all blocks. Defaults to 0.
        out_type (str): ``'featmap'`` returns the stage maps of
            ``out_indices`` (NCHW, strides 4/8/16/32, each through its
            ``out_norm``) and builds only the stages they need;
            ``'avg_featmap'`` returns ``(pre_logits,)``, the official
            classifier input (B, C), for mmpretrain's ``LinearClsHead``:
            the average of the normalised stage-4 tokens (relative layout)
            or, for the absolute layout, the normalised cls token (the
            package's name for "the model's own pooled output", as in
            LeMeViT). ``out_indices`` is then ignored. Defaults to
            ``'featmap'``.
        out_norm_indices (Sequence[int]): Stages whose dense output goes
            through a LayerNorm. The official detection models normalise
            stages 1-3 (``(1, 2, 3)``), the segmentation ones all four;
            LIT-Ti's official dense models none (``()``). Norms missing
            from a checkpoint keep their initialisation (identity affine),
            as the official loaders (strict=False) leave them. Defaults
            to ``(0, 1, 2, 3)``.
        fused (bool): Fast paths: SDPA attention, fused CPU inference
            linear layers and torchvision's deformable convolution. False
            runs the plain-PyTorch references everywhere; tests hold the
            two equal. Defaults to True.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``with_cp``, ``init_cfg`` of :class:`BaseSparseBackbone`.
            ``frozen_stages=0`` freezes ``patch_embed``; ``k`` also freezes
            ``stages[:k]`` (their DTM, position embeddings, blocks and
            output norms).

    Examples:
        >>> import torch
        >>> model = LIT('s', out_indices=(0, 1, 2, 3)).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 225, 239))]
        [(1, 96, 57, 60), (1, 192, 29, 30), (1, 384, 15, 15), (1, 768, 8, 8)]
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['ti', 'tiny'], {
            'embed_dims': [64, 128, 320, 512],
            'depths':     [3,  4,   6,   3],
            'num_heads':  [1,  2,   5,   8],
            'mlp_ratios': [8,  8,   4,   4],
            'position': ABSOLUTE}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': [96, 192, 384, 768],
            'depths':     [2,  2,   6,   2],
            'num_heads':  [3,  6,   12,  24],
            'mlp_ratios': [4,  4,   4,   4],
            'position': RELATIVE}),
        **dict.fromkeys(['m', 'medium'], {
            'embed_dims': [96, 192, 384, 768],
            'depths':     [2,  2,   18,  2],
            'num_heads':  [3,  6,   12,  24],
            'mlp_ratios': [4,  4,   4,   4],
            'position': RELATIVE}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': [128, 256, 512, 1024],
            'depths':     [2,   2,   18,  2],
            'num_heads':  [4,   8,   16,  32],
            'mlp_ratios': [4,   4,   4,   4],
            'position': RELATIVE}),
    }
    # yapf: enable
    essential_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios',
                      'position')
    per_stage_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios')
    stem_names = ('patch_embed', )
    out_types = ('featmap', 'avg_featmap')

    def __init__(self,
                 arch: Union[str, dict] = 'ti',
                 in_channels: int = 3,
                 pretrain_img_size: int = 224,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 out_norm_indices: Sequence[int] = (0, 1, 2, 3),
                 fused: bool = True,
                 **kwargs) -> None:
        super().__init__(
            arch, out_indices=out_indices, out_type=out_type, **kwargs)
        settings = self.arch_settings
        position = settings['position']
        if position not in (ABSOLUTE, RELATIVE):
            raise ValueError(f"LIT arch 'position' must be {ABSOLUTE!r} "
                             f'(LIT-Ti layout) or {RELATIVE!r} (LIT-S/M/B '
                             f'layout), got {position!r}')
        if not set(out_norm_indices) <= set(range(self.num_stages)):
            raise ValueError(f'out_norm_indices must be stage indices in '
                             f'0..3, got {out_norm_indices}')
        self.position = position
        self.pretrain_img_size = pretrain_img_size
        self.embed_dims = tuple(settings['embed_dims'])
        dims, depths = self.embed_dims, settings['depths']
        classify = out_type == 'avg_featmap'
        # PVT layout: LN eps 1e-6 in blocks; Swin layout: 1e-5.
        norm_eps = 1e-6 if position == ABSOLUTE else 1e-5
        last_stage = self.num_stages - 1 if classify else max(self.out_indices)

        self.patch_embed = PatchEmbed(in_channels, dims[0])
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))
        self.stages = nn.ModuleList()
        for i in range(last_stage + 1):
            grid = grid_size(pretrain_img_size, self.stage_strides[i])
            # relative bias table: one row per (dy, dx) on the grid
            table_side = 2 * grid - 1 if position == RELATIVE else None
            blocks = []
            for _ in range(depths[i]):
                if i in ATTENTION_STAGES:
                    blocks.append(
                        AttentionBlock(
                            dims[i],
                            settings['num_heads'][i],
                            settings['mlp_ratios'][i],
                            next(rates),
                            norm_eps,
                            table_side=table_side,
                            fused=fused))
                else:
                    blocks.append(
                        MlpBlock(dims[i], settings['mlp_ratios'][i],
                                 next(rates), norm_eps, fused))
            dense_out = not classify and i in self.out_indices
            self.stages.append(
                LITStage(
                    blocks,
                    dims[i],
                    downsample=DeformableTokenMerging(
                        dims[i - 1], dims[i], fused=fused) if i else None,
                    pos_grid=(grid, grid) if position == ABSOLUTE else None,
                    cls_token=classify and position == ABSOLUTE
                    and i == self.num_stages - 1,
                    out_norm=nn.LayerNorm(dims[i], eps=norm_eps)
                    if dense_out and i in out_norm_indices else None))
        if classify:
            self.norm = nn.LayerNorm(dims[-1], eps=norm_eps)
        self.apply(self._init_module)
        self._freeze_stages()

    @staticmethod
    def _init_module(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            trunc_normal_(module.weight, std=.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return self.embed_dims

    def convert_state_dict(self, state_dict):
        """Official names -> ours, tables and position embeddings resized
        to ``pretrain_img_size``; output norms the checkpoint lacks (every
        classification checkpoint) keep their initial values."""
        from ..converters import convert_lit
        state_dict = convert_lit(
            state_dict, pretrain_img_size=self.pretrain_img_size)
        missing_norms = [
            k for k, v in self.state_dict().items()
            if '.out_norm.' in k and k not in state_dict
        ]
        if missing_norms:
            own = self.state_dict()
            state_dict.update({k: own[k] for k in missing_norms})
            MMLogger.get_current_instance().info(
                f'LIT: the checkpoint has no output norms '
                f'{sorted({k.rsplit(".", 1)[0] for k in missing_norms})}; '
                f'they keep their initialisation')
        return state_dict

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.patch_embed(x)
        outs = {}
        for i, stage in enumerate(self.stages):
            tokens, hw_shape = stage(x, self.run_block)
            if i + 1 < len(self.stages):
                x = nlc_to_nchw(tokens, hw_shape)
            if self.out_type == 'featmap' and i in self.out_indices:
                if stage.out_norm is not None:
                    tokens = stage.out_norm(tokens)
                outs[i] = nlc_to_nchw(tokens, hw_shape).contiguous()
        if self.out_type == 'avg_featmap':
            tokens = self.norm(tokens)
            if self.position == ABSOLUTE:
                return (tokens[:, 0], )
            return (tokens.mean(dim=1), )
        return tuple(outs[i] for i in self.out_indices)
