# Copyright (c) sparse_backbones contributors. All rights reserved.
# Modified from https://github.com/ViTAE-Transformer/LeMeViT (MIT License)
"""LeMeViT: a hierarchical ViT with learnable meta tokens.

`LeMeViT: Efficient Vision Transformer with Learnable Meta Tokens for Remote
Sensing Image Interpretation <https://arxiv.org/abs/2405.09789>`_
(W. Jiang, J. Zhang, D. Wang, Q. Zhang, Z. Wang, B. Du; IJCAI 2024).

A small set of learnable meta tokens summarises the image: cross-attention
blocks initialise them from the stride-4 image tokens, dual cross-attention
(DCA) blocks let image and meta tokens attend to each other at strides 4 and
8 (O(N M) instead of O(N^2)), and stages 3-4 use global self-attention.

Layout of this implementation (paper stages, not the official code's five):
``stages[0]`` holds the cross-attention blocks ("code stage 0") and the
stride-4 DCA blocks ("code stage 1"); ``stages[1..3]`` are code stages 2-4.
Numerics follow the official classification model exactly (same parameter
count, DCA temperatures, shared norms/MLP between image and meta tokens);
:func:`~sparse_backbones.converters.convert_lemevit` maps its checkpoints.

The stages have no output norms: dense outputs are the image tokens as they
are (as upstream's detection/segmentation backbones return them). The only
one is the classifier's BatchNorm of the last map, ``norm3``, which exists
only for ``out_type='avg_featmap'``, where no map is returned.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath

from ..layers import (Attention, Mlp, drop_path_rates, init_vit_weights,
                      merge_heads, multi_head_attention, nchw_to_nlc,
                      nlc_to_nchw, split_heads)
from ..registry import MODELS, register_module
from .base import BaseSparseBackbone

# Block kinds.
CROSS = 'cross'  # meta tokens attend to image tokens; image tokens unchanged
DUAL = 'dual'  # dual cross-attention between image and meta tokens
STANDARD = 'standard'  # global self-attention (meta tokens separately)

# The forward state between stages: image tokens (B, H*W, C), meta tokens
# (B, M, C) and the image grid (H, W).
_State = Tuple[torch.Tensor, torch.Tensor, Tuple[int, int]]


def _meta_projection(in_dims: int, out_dims: int) -> nn.Sequential:
    """The per-stage MLP that carries meta tokens to a stage's width."""
    return nn.Sequential(
        nn.Linear(in_dims, 4 * in_dims), nn.LayerNorm(4 * in_dims),
        nn.GELU(), nn.Linear(4 * in_dims, out_dims), nn.LayerNorm(out_dims))


def _downsample(in_dims: int, out_dims: int) -> nn.Sequential:
    """Stride-2 3x3 conv + BN (one module after ``switch_to_deploy``)."""
    return nn.Sequential(
        nn.Conv2d(in_dims, out_dims, 3, stride=2, padding=1),
        nn.BatchNorm2d(out_dims))


class _CrossAttention(nn.Module):
    """Meta-token queries over image-token keys and values."""

    def __init__(self, embed_dims: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(embed_dims, embed_dims)
        self.kv = nn.Linear(embed_dims, 2 * embed_dims)  # rows [k; v]
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor, meta: torch.Tensor) -> torch.Tensor:
        q = split_heads(self.q(meta), self.num_heads)
        k, v = (split_heads(t, self.num_heads)
                for t in self.kv(x).chunk(2, dim=-1))
        return self.proj(merge_heads(multi_head_attention(q, k, v)))


class _DualCrossAttention(nn.Module):
    """Image tokens attend to meta tokens and meta tokens to image tokens.

    Both branches read the pre-update inputs. The temperatures are the
    official ones: ``ln(M) / ln(N) / sqrt(C)`` for image queries and
    ``1 / sqrt(C)`` for meta queries, with C the full width (not the head
    width) and N, M read at run time, so the image branch sharpens with the
    input resolution exactly as upstream.

    Args:
        update_meta (bool): Whether the meta branch is computed. The last
            DCA block of a dense backbone has no consumer for it, so its
            ``proj_c`` is not created.
    """

    def __init__(self, embed_dims: int, num_heads: int,
                 update_meta: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.update_meta = update_meta
        self.qkv1 = nn.Linear(embed_dims, 3 * embed_dims)  # image tokens
        self.qkv2 = nn.Linear(embed_dims, 3 * embed_dims)  # meta tokens
        self.proj_x = nn.Linear(embed_dims, embed_dims)
        if update_meta:
            self.proj_c = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor, meta: torch.Tensor
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        N, C = x.shape[1:]
        M = meta.shape[1]
        if N < 2:
            raise ValueError('Dual cross-attention needs at least 2 image '
                             'tokens; the input image is too small')
        q1, k1, v1 = (split_heads(t, self.num_heads)
                      for t in self.qkv1(x).chunk(3, dim=-1))
        q2, k2, v2 = (split_heads(t, self.num_heads)
                      for t in self.qkv2(meta).chunk(3, dim=-1))
        scale_x = math.log(M) / math.log(N) * C**-0.5
        x_out = self.proj_x(
            merge_heads(multi_head_attention(q1, k2, v2, scale=scale_x)))
        if not self.update_meta:
            return x_out, None
        meta_out = merge_heads(multi_head_attention(q2, k1, v1, scale=C**-0.5))
        return x_out, self.proj_c(meta_out)


class _LeMeBlock(nn.Module):
    """A pre-norm LeMeViT block of kind :data:`CROSS`, :data:`DUAL` or
    :data:`STANDARD`.

    Every block first adds a depthwise 3x3 convolution of the image tokens
    (conditional position encoding). ``norm1``, ``norm2`` and ``mlp`` are
    shared by image and meta tokens. Cross blocks update only the meta
    tokens and return the image tokens from before the position encoding.

    Args:
        update_meta (bool): Whether the meta tokens' update is computed
            (False where nothing downstream reads them).
    """

    def __init__(self,
                 kind: str,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float,
                 drop_path: float,
                 update_meta: bool) -> None:
        super().__init__()
        self.kind = kind
        self.update_meta = update_meta
        self.pos_embed = nn.Conv2d(
            embed_dims, embed_dims, 3, padding=1, groups=embed_dims)
        # eps 1e-6 as upstream, which notes it avoids attention collapse.
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        if kind == CROSS:
            self.attn = _CrossAttention(embed_dims, num_heads)
        elif kind == DUAL:
            self.attn = _DualCrossAttention(embed_dims, num_heads,
                                            update_meta)
        else:
            self.attn = Attention(embed_dims, num_heads)
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x: torch.Tensor, meta: torch.Tensor,
                hw_shape: Tuple[int, int]
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        # x: (B, H*W, C) image tokens; meta: (B, M, C) meta tokens.
        x_pe = x + nchw_to_nlc(self.pos_embed(nlc_to_nchw(x, hw_shape)))
        if self.kind == CROSS:
            meta = meta + self.drop_path(
                self.attn(self.norm1(x_pe), self.norm1(meta)))
            return x, self._ffn(meta)
        if self.kind == DUAL:
            x_out, meta_out = self.attn(self.norm1(x_pe), self.norm1(meta))
            if self.update_meta:
                meta = self._ffn(meta + self.drop_path(meta_out))
        else:
            x_out = self.attn(self.norm1(x_pe))
            if self.update_meta:
                meta = self._ffn(
                    meta + self.drop_path(self.attn(self.norm1(meta))))
        return self._ffn(x_pe + self.drop_path(x_out)), meta


class _LeMeStage(nn.Module):
    """Downsampling, meta-token projection and the blocks of one stage.

    ``cross_meta_proj``/``cross_blocks`` exist only in the first stage;
    ``downsample`` (an ``nn.Sequential`` of conv, BN) only after it;
    ``meta_proj`` only where the stage reads meta tokens.
    """

    def __init__(self,
                 blocks: List[_LeMeBlock],
                 downsample: Optional[nn.Sequential] = None,
                 meta_proj: Optional[nn.Module] = None,
                 cross_meta_proj: Optional[nn.Module] = None,
                 cross_blocks: Sequence[_LeMeBlock] = ()) -> None:
        super().__init__()
        self.cross_meta_proj = cross_meta_proj
        self.cross_blocks = nn.ModuleList(cross_blocks)
        self.downsample = downsample
        self.meta_proj = meta_proj
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, meta: torch.Tensor,
                hw_shape: Tuple[int, int], run_block) -> _State:
        if self.downsample is not None:
            x = self.downsample(nlc_to_nchw(x, hw_shape))
            hw_shape = tuple(x.shape[2:])
            x = nchw_to_nlc(x)
        if self.cross_meta_proj is not None:
            meta = self.cross_meta_proj(meta)
            for block in self.cross_blocks:
                x, meta = run_block(block, x, meta, hw_shape)
        if self.meta_proj is not None:
            meta = self.meta_proj(meta)
        for block in self.blocks:
            x, meta = run_block(block, x, meta, hw_shape)
        return x, meta, hw_shape


@register_module(MODELS)
class LeMeViT(BaseSparseBackbone):
    """LeMeViT backbone for classification, detection and segmentation.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (or
            ``'t'``, ``'s'``, ``'b'``), or a dict with keys:

            - **embed_dims** (Sequence[int]): widths of the 4 stages.
            - **depths** (Sequence[int]): DCA/attention blocks per stage.
            - **cross_depth** (int): cross-attention blocks before stage 0.
            - **head_dims** (int, optional): channels per head; 32.
            - **mlp_ratio** (float, optional): MLP expansion; 4.

            The first stage's stem width is ``embed_dims[0]``.
        in_channels (int): Input image channels. Defaults to 3.
        num_meta_tokens (int): Number M of learnable meta tokens.
            Defaults to 16.
        drop_path_rate (float): Stochastic depth rate of the last block,
            rising linearly from 0 over all blocks (cross blocks included).
            Defaults to 0.
        out_type (str): ``'featmap'`` returns the stage maps of
            ``out_indices`` (NCHW, strides 4/8/16/32) and builds only what
            they need; ``'avg_featmap'`` returns ``(pre_logits,)`` with
            pre_logits (B, C) = mean(norm3(image map)) +
            mean(meta_norm(meta tokens)), the official classifier input
            (``norm3`` a BatchNorm2d, ``meta_norm`` a LayerNorm), for
            mmpretrain's ``LinearClsHead`` (``out_indices`` is then
            ignored). Defaults to ``'featmap'``.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``with_cp``, ``init_cfg`` of :class:`BaseSparseBackbone`.
            ``frozen_stages=0`` freezes ``patch_embed`` and ``meta_tokens``.

    Examples:
        >>> import torch
        >>> model = LeMeViT('tiny', out_indices=(0, 1, 2, 3)).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 225, 239))]
        [(1, 64, 57, 60), (1, 128, 29, 30), (1, 192, 15, 15), (1, 320, 8, 8)]
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': [64, 128, 192, 320],
            'depths':     [2,  2,   8,   2],
            'cross_depth': 1}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': [96, 192, 320, 384],
            'depths':     [2,  2,   6,   2],
            'cross_depth': 1}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': [96, 192, 384, 512],
            'depths':     [4,  4,   18,  4],
            'cross_depth': 2}),
    }
    # yapf: enable
    essential_keys = ('embed_dims', 'depths', 'cross_depth')
    per_stage_keys = ('embed_dims', 'depths')
    stem_names = ('patch_embed', 'meta_tokens')
    stage_kinds = (DUAL, DUAL, STANDARD, STANDARD)
    out_types = ('featmap', 'avg_featmap')

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 num_meta_tokens: int = 16,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 **kwargs) -> None:
        super().__init__(
            arch, out_indices=out_indices, out_type=out_type, **kwargs)
        settings = self.arch_settings
        dims = list(settings['embed_dims'])
        depths = list(settings['depths'])
        head_dims = settings.get('head_dims', 32)
        mlp_ratio = settings.get('mlp_ratio', 4)
        cross_depth = settings['cross_depth']
        self.embed_dims = tuple(dims)
        classify = out_type == 'avg_featmap'
        last_stage = self.last_stage

        # Stem: two stride-2 3x3 convs (no activation after the last BN).
        # One Sequential (the official keys' indices); switch_to_deploy
        # folds it into two convolutions.
        self.patch_embed = nn.Sequential(
            nn.Conv2d(in_channels, dims[0] // 2, 3, stride=2, padding=1),
            nn.BatchNorm2d(dims[0] // 2), nn.GELU(),
            nn.Conv2d(dims[0] // 2, dims[0], 3, stride=2, padding=1),
            nn.BatchNorm2d(dims[0]))
        # randn (std 1) as upstream, not truncated normal.
        self.meta_tokens = nn.Parameter(torch.randn(num_meta_tokens, dims[0]))

        rates = iter(
            drop_path_rates(drop_path_rate, cross_depth + sum(depths)))
        # Dense outputs read meta tokens only through DCA blocks, so meta
        # updates after the last needed DCA block are not built.
        dual_stages = [
            i for i in range(last_stage + 1) if self.stage_kinds[i] == DUAL
        ]
        last_dual = dual_stages[-1] if dual_stages else -1

        def block(kind, dim, update_meta):
            return _LeMeBlock(kind, dim, dim // head_dims, mlp_ratio,
                              next(rates), update_meta)

        cross_blocks = [
            block(CROSS, dims[0], True) for _ in range(cross_depth)
        ]
        self.stages = nn.ModuleList()
        for i in range(last_stage + 1):
            kind = self.stage_kinds[i]
            reads_meta = classify or kind == DUAL
            blocks = []
            for j in range(depths[i]):
                later_dual = i < last_dual or (i == last_dual
                                               and j < depths[i] - 1)
                blocks.append(block(kind, dims[i], classify or later_dual))
            self.stages.append(
                _LeMeStage(
                    blocks,
                    downsample=_downsample(dims[i - 1], dims[i])
                    if i > 0 else None,
                    meta_proj=_meta_projection(dims[max(i - 1, 0)], dims[i])
                    if reads_meta else None,
                    cross_meta_proj=_meta_projection(dims[0], dims[0])
                    if i == 0 else None,
                    cross_blocks=cross_blocks if i == 0 else ()))
        if classify:
            # The classifier's BN of the last map: stage 3's output norm by
            # the contract's naming. Built only here, where no map is
            # returned, so base.featmap never applies it to dense outputs.
            self.norm3 = nn.BatchNorm2d(dims[-1])
            self.meta_norm = nn.LayerNorm(dims[-1])
        self.apply(init_vit_weights)
        self._freeze_stages()

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return self.embed_dims

    def block_prefixes(self) -> List[str]:
        cross = [
            f'stages.0.cross_blocks.{j}'
            for j in range(len(self.stages[0].cross_blocks))
        ]
        return cross + super().block_prefixes()

    def convert_state_dict(self, state_dict):
        from ..converters import convert_lemevit
        return convert_lemevit(state_dict)

    def legacy_key_renames(self) -> List[Tuple[str, str]]:
        # Before _version 2 the classifier BN was ``norm``.
        return [(r'^norm\.', 'norm3.')]

    def forward_stem(self, x: torch.Tensor) -> _State:
        """Images -> the stride-4 image tokens, the meta tokens and the
        grid shape."""
        H, W = x.shape[2:]
        if math.ceil(H / 8) * math.ceil(W / 8) < 2:
            raise ValueError(
                f'LeMeViT needs at least 2 tokens at stride 8 for its dual '
                f'cross-attention; got a {H}x{W} input, whose stride-8 grid '
                f'is a single token. Make at least one side longer than 8 '
                f'pixels (e.g. resize or pad to 32x32).')
        x = self.patch_embed(x)
        hw_shape = tuple(x.shape[2:])
        x = nchw_to_nlc(x)
        meta = self.meta_tokens.expand(x.shape[0], -1, -1)
        return x, meta, hw_shape

    def forward_stage(self, index: int, state: _State) -> _State:
        return self.stages[index](*state, self.run_block)

    def stage_tokens(self, index: int,
                     state: _State) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x, _, hw_shape = state
        return x, hw_shape

    def forward_pooled(self, state: _State) -> torch.Tensor:
        """mean(norm3(image map)) + mean(meta_norm(meta tokens)), (B, C)."""
        x, meta, hw_shape = state
        image = self.norm3(nlc_to_nchw(x, hw_shape)).mean(dim=(2, 3))
        return image + self.meta_norm(meta).mean(dim=1)
