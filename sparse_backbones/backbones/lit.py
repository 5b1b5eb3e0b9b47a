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

Layout: ``patch_embed`` is the stem; ``stages[i]`` holds, in order, the
DTM (``downsample``, i > 0), the position embedding (``pos_embed``), the
cls token (stage 4, classification) and the blocks; ``norm{i}`` is the
norm of stage i's dense output, ``norm`` the final norm of the classifier.
Dense outputs are taken after the blocks, before the next DTM, as
upstream. :func:`~sparse_backbones.converters.convert_lit` maps the
official checkpoints.
"""
import math
import re
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmengine.logging import MMLogger
from torch.nn.init import trunc_normal_

from ..layers import (Attention, DeformableTokenMerging, Mlp, PatchEmbed,
                      attention_reference, drop_path_rates, float32_region,
                      fp16_in_play, init_vit_weights, merge_heads,
                      multi_head_attention, nchw_to_nlc, nlc_to_nchw,
                      resize_pos_embed)
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
# Output norms named stages.{i}.out_norm before _version 2.
_OUT_NORM = re.compile(r'^norm(\d+)\.')


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


def resize_bias_table(table: torch.Tensor, dst_hw: Tuple[int,
                                                         int]) -> torch.Tensor:
    """Bicubically resize a ((2R-1)^2, heads) bias table to dst_hw sides.

    The table is a (2R-1) x (2R-1) grid of ``heads`` channels, so this is
    the position-embedding resize without extra tokens.

    Returns:
        Tensor: (heads, dst_h * dst_w), rows of the resized table.
    """
    side = math.isqrt(table.shape[0])
    return resize_pos_embed(
        table[None], (side, side), dst_hw, num_extra_tokens=0)[0].t()


def gathered_position_bias(table_rows: torch.Tensor,
                           hw_shape: Tuple[int, int]) -> torch.Tensor:
    """(heads, N, N) bias of an H x W map from its (heads, (2H-1) *
    (2W-1)) table rows, gathered through :func:`relative_position_index`.
    """
    index = relative_position_index(hw_shape, table_rows.device)
    # index_select: about 5x faster than rows[:, index] on CPU.
    return table_rows.index_select(1, index.flatten()).view(-1, *index.shape)


def relative_position_attention(query: torch.Tensor, key: torch.Tensor,
                                value: torch.Tensor, table_rows: torch.Tensor,
                                hw_shape: Tuple[int, int]) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d) + bias) v`` with LIT's relative position
    bias, without building the (heads, N, N) bias or its index (the CPU
    path of :class:`RelPosAttention`; the oracle is
    :func:`relative_position_attention_reference`).

    ``bias[h, i, j] = table[h, y_i - y_j + H - 1, x_i - x_j + W - 1]``.
    With the queries in reverse raster order (``y' = H-1-y``,
    ``x' = W-1-x``) and the table flipped, this is ``flipped[h, y' + y_j,
    x' + x_j]``: a strided view of the small table, added in place to the
    logits. Queries run in chunks of whole grid rows, at most
    :data:`CPU_CHUNK_LOGITS` logits each, so memory stays flat on large
    maps (a 64 x 64 map has 200M logits per image). Per chunk these are the
    explicit products of :func:`~sparse_backbones.layers.
    attention_reference`, with the bias added as a view.

    Args:
        query, key, value (Tensor): (B, heads, H * W, d).
        table_rows (Tensor): (heads, (2H-1) * (2W-1)), see
            :meth:`RelPosAttention.table_rows`.
        hw_shape (tuple[int, int]): The grid (H, W).

    Returns:
        Tensor: (B, heads, H * W, d).
    """
    if fp16_in_play(query):  # float32 logits, as attention_reference
        with float32_region(query):
            out = relative_position_attention(query.float(), key.float(),
                                              value.float(),
                                              table_rows.float(), hw_shape)
        return out.to(value.dtype)
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


def relative_position_attention_reference(
        query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
        table_rows: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
    """:func:`relative_position_attention` by the gathered (heads, N, N)
    bias and the explicit products (the reference)."""
    return attention_reference(
        query, key, value, bias=gathered_position_bias(table_rows, hw_shape))


class RelPosAttention(Attention):
    """Global self-attention with a relative position bias over the whole
    feature map (official LIT-S/M/B ``RelPosAttention``).

    The learned table has ``(2R-1)^2`` rows for the R x R grid of the
    pretraining size; for an H x W map it is bicubically resized to
    ``(2H-1) x (2W-1)`` at run time, as the official dense models do. On
    CPU the attention runs :func:`relative_position_attention` (no
    (heads, N, N) bias is built), elsewhere
    :func:`~sparse_backbones.layers.multi_head_attention` with the gathered
    bias.

    Args:
        embed_dims (int): Token channels.
        num_heads (int): Heads.
        table_side (int): ``2R - 1``.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 table_side: int) -> None:
        super().__init__(embed_dims, num_heads, qkv_bias=True)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(table_side**2, num_heads))
        trunc_normal_(self.relative_position_bias_table, std=.02)

    def table_rows(self, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """(heads, (2H-1) * (2W-1)) table resized for an H x W map."""
        H, W = hw_shape
        return resize_bias_table(self.relative_position_bias_table,
                                 (2 * H - 1, 2 * W - 1))

    def position_bias(self, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """(heads, N, N) bias for an H x W map."""
        return gathered_position_bias(self.table_rows(hw_shape), hw_shape)

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # Its query chunks follow the batch: an export takes the general
        # path, which leaves the batch free.
        if x.device.type == 'cpu' and not torch.compiler.is_exporting():
            out = relative_position_attention(q, k, v,
                                              self.table_rows(hw_shape),
                                              hw_shape)
        else:
            out = multi_head_attention(
                q, k, v, bias=self.position_bias(hw_shape))
        return self.proj(merge_heads(out))


class MlpBlock(nn.Module):
    """x + DropPath(MLP(LN(x))): stages 1-2, no token mixing.

    The norm is called ``norm2`` as upstream (the MLP half of a transformer
    block), so checkpoint keys keep their names.
    """

    def __init__(self, embed_dims: int, mlp_ratio: float, drop_path: float,
                 norm_eps: float) -> None:
        super().__init__()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio))
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
                 table_side: Optional[int] = None) -> None:
        super().__init__(embed_dims, mlp_ratio, drop_path, norm_eps)
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        if table_side is None:
            self.attn = Attention(embed_dims, num_heads)
        else:
            self.attn = RelPosAttention(embed_dims, num_heads, table_side)

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        if isinstance(self.attn, RelPosAttention):
            x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        else:
            x = x + self.drop_path(self.attn(self.norm1(x)))
        return super().forward(x, hw_shape)


class LITStage(nn.Module):
    """DTM, position information and blocks of one stage.

    Args:
        blocks (list[nn.Module]): The stage's blocks.
        embed_dims (int): Token channels of the stage.
        downsample (nn.Module, optional): DTM from the previous stage.
        pos_grid (tuple[int, int], optional): Grid of the learned absolute
            position embedding (absolute layout only).
        cls_token (bool): Prepend a cls token (LIT-Ti classification).
    """

    def __init__(self,
                 blocks: List[nn.Module],
                 embed_dims: int,
                 downsample: Optional[nn.Module] = None,
                 pos_grid: Optional[Tuple[int, int]] = None,
                 cls_token: bool = False) -> None:
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

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int],
                run_block) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """(B, H*W, C) grid tokens -> ((B, N, C') tokens, (H', W')); N
        counts the cls token first if the stage has one."""
        if self.downsample is not None:
            x = self.downsample(nlc_to_nchw(x, hw_shape))
            hw_shape = tuple(x.shape[2:])
            x = nchw_to_nlc(x)
        if self.pos_grid is not None:
            x = x + resize_pos_embed(
                self.pos_embed,
                self.pos_grid,
                hw_shape,
                mode='bilinear',
                num_extra_tokens=0)
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
        bias_table_img_size (int, optional): Square image size the
            relative-position bias tables (LIT-S/M/B) are built for, if
            not ``pretrain_img_size``. The official dense code builds them
            for 800 px (detection) or 512 px (segmentation) and bicubically
            resizes 224 px tables to that size when it loads them (then to
            every map at run time); the dense configs set it so loading a
            classification checkpoint gives the same tables. Absolute
            embeddings (LIT-Ti) stay at ``pretrain_img_size``, as there.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0 over all blocks. Defaults to 0.
        out_type (str): ``'featmap'`` returns the stage maps of
            ``out_indices`` (NCHW, strides 4/8/16/32, each through its
            ``norm{i}``) and builds only the stages they need;
            ``'avg_featmap'`` returns ``(pre_logits,)``, the official
            classifier input (B, C), for mmpretrain's ``LinearClsHead``:
            the average of the stage-4 tokens after the final ``norm``
            (relative layout) or, for the absolute layout, the normalised
            cls token (the package's name for "the model's own pooled
            output", as in LeMeViT). ``out_indices`` is then ignored.
            Defaults to ``'featmap'``.
        out_norm_indices (Sequence[int]): Stages whose dense output goes
            through a LayerNorm ``norm{i}``. The official detection models
            normalise stages 1-3 (``(1, 2, 3)``), the segmentation ones all
            four; LIT-Ti's official dense models none (``()``). Norms
            missing from a checkpoint keep their initialisation (identity
            affine), as the official loaders (strict=False) leave them.
            Defaults to ``(0, 1, 2, 3)``.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``with_cp``, ``init_cfg`` of :class:`BaseSparseBackbone`.
            ``frozen_stages=0`` freezes ``patch_embed``; ``k`` also freezes
            ``stages[:k]`` (their DTM, position embeddings and blocks) and
            their ``norm{i}``.

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
                 bias_table_img_size: Optional[int] = None,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 out_norm_indices: Sequence[int] = (0, 1, 2, 3),
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
        self.bias_table_img_size = bias_table_img_size or pretrain_img_size
        self.embed_dims = tuple(settings['embed_dims'])
        dims, depths = self.embed_dims, settings['depths']
        classify = out_type == 'avg_featmap'
        # PVT layout: LN eps 1e-6 in blocks; Swin layout: 1e-5. The stem's
        # LN has PyTorch's default 1e-5 in both code bases.
        norm_eps = 1e-6 if position == ABSOLUTE else 1e-5

        self.patch_embed = PatchEmbed(
            in_channels, dims[0], patch_size=4, norm_eps=1e-5)
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))
        self.stages = nn.ModuleList()
        for i in range(self.last_stage + 1):
            grid = grid_size(pretrain_img_size, self.stage_strides[i])
            # relative bias table: one row per (dy, dx) on its grid
            table_grid = grid_size(self.bias_table_img_size,
                                   self.stage_strides[i])
            table_side = 2 * table_grid - 1 if position == RELATIVE \
                else None
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
                            table_side=table_side))
                else:
                    blocks.append(
                        MlpBlock(dims[i], settings['mlp_ratios'][i],
                                 next(rates), norm_eps))
            self.stages.append(
                LITStage(
                    blocks,
                    dims[i],
                    downsample=DeformableTokenMerging(dims[i - 1], dims[i])
                    if i else None,
                    pos_grid=(grid, grid) if position == ABSOLUTE else None,
                    cls_token=classify and position == ABSOLUTE
                    and i == self.num_stages - 1))
            if not classify and i in self.out_indices \
                    and i in out_norm_indices:
                self.add_module(f'norm{i}',
                                nn.LayerNorm(dims[i], eps=norm_eps))
        if classify:
            self.norm = nn.LayerNorm(dims[-1], eps=norm_eps)
        self.apply(init_vit_weights)
        self._freeze_stages()

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return self.embed_dims

    def legacy_key_renames(self) -> List[Tuple[str, str]]:
        return [(r'^stages\.(\d+)\.out_norm\.', r'norm\1.')]

    def convert_state_dict(self, state_dict):
        """Official names -> ours, tables and position embeddings resized
        to ``pretrain_img_size``; output norms the checkpoint lacks (every
        classification checkpoint) keep their initial values."""
        from ..converters import convert_lit
        state_dict = convert_lit(
            state_dict,
            pretrain_img_size=self.pretrain_img_size,
            table_img_size=self.bias_table_img_size)
        own = self.state_dict()
        missing_norms = [
            k for k in own if _OUT_NORM.match(k) and k not in state_dict
        ]
        if missing_norms:
            state_dict.update({k: own[k] for k in missing_norms})
            MMLogger.get_current_instance().info(
                f'LIT: the checkpoint has no output norms '
                f'{sorted({k.rsplit(".", 1)[0] for k in missing_norms})}; '
                f'they keep their initialisation')
        return state_dict

    # ------------------------------------------------------------ running
    def forward_stem(self,
                     x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Images -> (stride-4 tokens, their grid)."""
        return self.patch_embed(x)

    def forward_stage(
        self, index: int, state: Tuple[torch.Tensor, Tuple[int, int]]
    ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        tokens, hw_shape = state
        return self.stages[index](tokens, hw_shape, self.run_block)

    def stage_tokens(
        self, index: int, state: Tuple[torch.Tensor, Tuple[int, int]]
    ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        tokens, hw_shape = state
        if self.stages[index].has_cls_token:
            tokens = tokens[:, 1:]
        return tokens, hw_shape

    def forward_pooled(
            self, state: Tuple[torch.Tensor, Tuple[int, int]]) -> torch.Tensor:
        """The official classifier input: the normalised cls token
        (absolute layout) or the mean of the normalised tokens."""
        tokens = self.norm(state[0])
        if self.position == ABSOLUTE:
            return tokens[:, 0]
        return tokens.mean(dim=1)
