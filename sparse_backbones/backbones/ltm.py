# Copyright (c) sparse_backbones contributors. All rights reserved.
"""LTM-Transformer: ViT and Swin backbones with learnable token merging.

`Efficient Visual Transformer by Learnable Token Merging
<https://arxiv.org/abs/2407.15219>`_ (Y. Wang, Y. Yang; IEEE TPAMI 2025;
project page https://github.com/Statistical-Deep-Learning/LTM).

Every transformer block of the host is replaced by an LTM block: the host's
attention, then a learnable mask module that softly merges the N tokens
into N' = r N tokens (fed by the previous block's mask), the MLP on the
merged tokens only, and an unmerging step that brings the MLP outputs back
to the host's token grid. The grid is kept, so window attention, patch
merging and dense outputs work unchanged, and the MLP (most of the host's
multiply-adds) runs on r N tokens.

The block follows the published description of the method (its figure: a
soft N x N' merging mask fed by the previous block's mask, merged tokens
``G^T Z``, near-zero added parameters) rather than released code: the
paper's mask-module equations are not public and the official repository
contains no LTM block. The equations are those of
:mod:`sparse_backbones.layers.token_merge`.

Host parts keep the module names of mmpretrain's ``VisionTransformer`` and
``SwinTransformer``, so their released ImageNet weights initialise LTM
models; only the ``merge.*`` parameters are new (and the ViT's final norm,
mmpretrain's ``ln1``, is ``norm{num_layers - 1}`` under the contract).
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import PatchEmbed, PatchMerging
from mmengine.logging import MMLogger
from torch.nn.init import trunc_normal_

from ..layers import (Attention, drop_path_rates, init_vit_weights,
                      resize_pos_embed)
from ..layers.token_merge import (TokenMergeMask, check_keep_ratio, merge_macs,
                                  merge_tokens, num_merged_tokens,
                                  spread_seeds, unmerge_tokens)
from ..layers.window_attention import ShiftWindowMSA, WindowMSA
from ..registry import MODELS, register_module
from .base import BaseSparseBackbone, DynamicStats


@dataclass
class LTMBlockRecord:
    """What one LTM block did, for visualisation.

    Attributes:
        mask (Tensor): (B * num_windows, N, N') merging mask, detached.
        seeds (Tensor): (N', ) seed positions inside a sequence (window).
        hw_shape (tuple[int, int]): The token grid of the block's input.
        window_size (int): Window side; 0 for a global (ViT) block.
        shift_size (int): Cyclic shift of the windows; 0 if none.
    """
    mask: torch.Tensor
    seeds: torch.Tensor
    hw_shape: Tuple[int, int]
    window_size: int = 0
    shift_size: int = 0


@dataclass
class _LTMState:
    """What flows between the stages of an LTM backbone."""
    x: torch.Tensor  # (B, E + H*W, C) tokens, E extra (cls) tokens first
    hw_shape: Tuple[int, int]
    # The previous block's merging mask (None at the start of a stage).
    mask: Optional[torch.Tensor] = None
    records: List[LTMBlockRecord] = field(default_factory=list)


class _HostFFN(nn.Module):
    """Linear-GELU-Linear with mmcv ``FFN``'s parameter names
    (``layers.0.0``, ``layers.1``); deploy folds ``layers.0`` (Linear,
    GELU) into one FusedLinear."""

    def __init__(self, embed_dims: int, hidden_dims: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, hidden_dims), nn.GELU()),
            nn.Linear(hidden_dims, embed_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _drop_path_per_sample(drop_path: nn.Module, x: torch.Tensor,
                          batch_size: int) -> torch.Tensor:
    """Stochastic depth per image for window-major (B * nW, N, C) tensors."""
    if isinstance(drop_path, nn.Identity):
        return x
    return drop_path(x.reshape(batch_size, -1, x.shape[-1])).reshape(x.shape)


class _LTMMixin:
    """Merge -> MLP on merged tokens -> unmerge, shared by both blocks.

    The using class defines ``merge``, ``ffn``, ``drop_path``, ``keep_ratio``
    and the attribute named by ``_ffn_norm``.
    """
    _ffn_norm = 'norm2'

    def seeds_for(self, num_tokens: int, device: torch.device) -> torch.Tensor:
        return spread_seeds(num_tokens,
                            num_merged_tokens(num_tokens, self.keep_ratio),
                            device)

    def merged_ffn(
        self,
        tokens: torch.Tensor,
        prev_mask: Optional[torch.Tensor],
        batch_size: int,
        num_extra: int = 0,
        valid: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``tokens + unmerge(DropPath(MLP(LN(merge(tokens)))))``.

        Args:
            tokens (Tensor): (B', num_extra + N, C) attention outputs Z;
                B' is B, or B * num_windows for windowed hosts.
            prev_mask (Tensor, optional): The previous block's mask.
            batch_size (int): B, for per-image stochastic depth.
            num_extra (int): Leading tokens (cls) that are neither merged
                nor seeds; they go through the MLP on their own.
            valid (Tensor, optional): (B', N) bool, False on padding, which
                neither contributes to nor receives merged tokens.

        Returns:
            tuple: the block output (like ``tokens``), the mask
            (B', N, N') and the seeds (N', ).
        """
        if num_extra and valid is not None:
            raise ValueError('padding (valid) and extra tokens cannot be '
                             'combined: windowed hosts have no cls token')
        grid = tokens[:, num_extra:]
        seeds = self.seeds_for(grid.shape[1], tokens.device)
        seed_valid = None if valid is None else valid[:, seeds]
        mask = self.merge(grid, seeds, prev_mask, seed_valid)
        merge_mask = mask
        if num_extra:
            # Extra tokens are their own seeds with weight 1: (B', E + N,
            # E + N') with an identity block, so no token tensor is split
            # and concatenated.
            merge_mask = F.pad(mask, (num_extra, 0, num_extra, 0))
            merge_mask[:, :num_extra, :num_extra] = torch.eye(
                num_extra, dtype=mask.dtype, device=mask.device)
            seeds = torch.cat([
                torch.arange(num_extra, device=seeds.device), seeds + num_extra
            ])
        merge_weights = merge_mask if valid is None else \
            merge_mask * valid.unsqueeze(-1).to(mask.dtype)
        merged = merge_tokens(
            tokens, merge_weights, seeds, may_lack_mass=valid
            is not None)  # (B', E + N', C)
        norm = getattr(self, self._ffn_norm)
        update = _drop_path_per_sample(self.drop_path, self.ffn(norm(merged)),
                                       batch_size)
        out = tokens + unmerge_tokens(merge_mask, update)
        seeds = seeds[num_extra:] - num_extra
        return out, mask, seeds


class LTMTransformerLayer(_LTMMixin, nn.Module):
    """A ViT encoder layer with LTM merging around its MLP.

    Parameter names follow mmpretrain's ``TransformerEncoderLayer``
    (``ln1``, ``attn.qkv``, ``attn.proj``, ``ln2``, ``ffn.layers``) plus
    ``merge.*``.

    Args:
        embed_dims (int): Token channels C.
        num_heads (int): Attention heads.
        feedforward_channels (int): MLP hidden channels.
        keep_ratio (float): r in (0, 1]: the MLP sees round(r N) merged
            patch tokens (plus the cls token).
        drop_path (float): Stochastic depth rate. Defaults to 0.
        qkv_bias (bool): Bias of the q/k/v projection. Defaults to True.
        use_prev_mask (bool): Whether the previous block's mask feeds the
            mask module (False for the first block). Defaults to True.
    """
    _ffn_norm = 'ln2'

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 keep_ratio: float,
                 drop_path: float = 0.,
                 qkv_bias: bool = True,
                 use_prev_mask: bool = True) -> None:
        super().__init__()
        self.keep_ratio = check_keep_ratio(keep_ratio)
        self.ln1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = Attention(embed_dims, num_heads, qkv_bias)
        self.ln2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = _HostFFN(embed_dims, feedforward_channels)
        self.merge = TokenMergeMask(embed_dims, use_prev_mask)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()

    def forward(
            self,
            x: torch.Tensor,
            prev_mask: Optional[torch.Tensor] = None,
            num_extra: int = 1
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # x: (B, num_extra + N, C), cls token first.
        z = x + self.drop_path(self.attn(self.ln1(x)))
        return self.merged_ffn(z, prev_mask, x.shape[0], num_extra)


class LTMSwinBlock(_LTMMixin, nn.Module):
    """A Swin block with LTM merging inside each (shifted) window.

    The map is cut into windows once: window attention, the residual, the
    merging of each window's tokens into round(r N) tokens, the MLP and the
    unmerging all run in the window layout. Padded tokens are zero in the
    attention input, as in Swin, and take no part in merging.

    Parameter names follow mmpretrain's ``SwinBlock`` (``norm1``,
    ``attn.w_msa.*``, ``norm2``, ``ffn.layers``) plus ``merge.*``.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads.
        window_size (int): Window side.
        shift (bool): Shift the windows by half a window.
        keep_ratio (float): r in (0, 1], per window of window_size**2
            tokens.
        mlp_ratio (float): MLP expansion. Defaults to 4.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        use_prev_mask (bool): Whether the previous block's mask feeds the
            mask module (False for a stage's first block). Defaults to True.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int,
                 shift: bool,
                 keep_ratio: float,
                 mlp_ratio: float = 4.,
                 drop_path: float = 0.,
                 use_prev_mask: bool = True) -> None:
        super().__init__()
        self.keep_ratio = check_keep_ratio(keep_ratio)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size, shift)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = _HostFFN(embed_dims, int(embed_dims * mlp_ratio))
        self.merge = TokenMergeMask(embed_dims, use_prev_mask)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        hw_shape: Tuple[int, int],
        prev_mask: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # x: (B, H*W, C) -> windows (B * nW, N, C)
        windows, layout = self.attn.partition(x, hw_shape)
        query = self.norm1(windows)
        if layout.valid is not None:
            # Swin pads the normalised map with zeros.
            query = query * layout.valid.unsqueeze(-1).to(query.dtype)
        z = windows + _drop_path_per_sample(
            self.drop_path, self.attn(query, layout), layout.batch_size)
        out, mask, seeds = self.merged_ffn(
            z, prev_mask, layout.batch_size, valid=layout.valid)
        return self.attn.reverse(out, layout), mask, seeds


class _PatchMerging(PatchMerging):
    """mmcv's ``PatchMerging`` (2x2 neighbours, corner padding, LayerNorm,
    linear reduction without bias), gathering by one permuted copy.

    Each 2x2 neighbourhood is gathered with one permuted copy in
    ``nn.Unfold``'s feature order (channel-major, then the four positions
    row-major, which the hosts' checkpoints are converted to) instead of
    mmcv's unfold into NCHW columns and transpose: the same numbers, so it
    is always on; mmcv's ``PatchMerging.forward``
    (:meth:`forward_reference`) is the reference the tests hold it equal
    to. Parameter names are mmcv's.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            in_channels, out_channels, norm_cfg=dict(type='LN'), bias=False)

    def forward_reference(self, x: torch.Tensor, input_size: Tuple[int, int]
                          ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """mmcv's forward."""
        return super().forward(x, input_size)

    def forward(self, x: torch.Tensor, input_size: Tuple[int, int]
                ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        B, L, C = x.shape
        H, W = input_size
        if L != H * W:
            raise ValueError(f'{L} tokens cannot hold a {H}x{W} grid')
        x = x.view(B, H, W, C)
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        Ho, Wo = (H + 1) // 2, (W + 1) // 2
        x = x.view(B, Ho, 2, Wo, 2, C).permute(0, 1, 3, 5, 2, 4)
        x = self.norm(x.reshape(B, Ho * Wo, 4 * C))
        return self.reduction(x), (Ho, Wo)


class _LTMSwinStage(nn.Module):
    """Blocks of one Swin stage and the patch merging after them."""

    def __init__(self, blocks: List[LTMSwinBlock],
                 downsample: Optional[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


#: LTMViT's blocks fall into this many consecutive groups of one keep
#: ratio each (``keep_ratios``).
NUM_RATIO_GROUPS = 4


def _keep_ratios(keep_ratios: Union[float, Sequence[float]], num_groups: int,
                 unit: str) -> Tuple[float, ...]:
    if not isinstance(keep_ratios, Sequence) or isinstance(keep_ratios, str):
        keep_ratios = (keep_ratios, ) * num_groups
    keep_ratios = tuple(keep_ratios)
    if len(keep_ratios) != num_groups:
        raise ValueError(f'keep_ratios needs one ratio per {unit} '
                         f'({num_groups}) or a single number, got '
                         f'{keep_ratios}')
    return tuple(check_keep_ratio(r) for r in keep_ratios)


class _LTMBackboneMixin:
    """Parts common to both LTM backbones: mask records, statistics and
    loading host checkpoints."""
    is_dynamic = True

    def _record(self, state: _LTMState, block: nn.Module, seeds: torch.Tensor,
                hw_shape: Tuple[int, int]) -> None:
        if not self.record_masks:
            return
        window, shift = 0, 0
        if isinstance(block, LTMSwinBlock):
            window = block.attn.window_size
            shift = block.attn.effective_shift(hw_shape)
        state.records.append(
            LTMBlockRecord(state.mask.detach(), seeds, tuple(hw_shape), window,
                           shift))

    def collect_stats(self, state: _LTMState) -> DynamicStats:
        """``records``: one :class:`LTMBlockRecord` per block in depth
        order while ``record_masks`` is True, else empty."""
        return DynamicStats(records=state.records)

    def convert_state_dict(
            self, state_dict: Dict[str,
                                   torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Accept mmpretrain host checkpoints: the mask-module parameters
        (``*.merge.*``) they lack keep their initialisation, and output
        norms a classification checkpoint lacks keep theirs."""
        own = self.state_dict()
        kept = [
            k for k in own if k not in state_dict and (
                '.merge.' in k or k.split('.')[0] in self.optional_norms())
        ]
        if not kept:
            return state_dict
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: {len(kept)} parameters not in the '
            f'checkpoint keep their initialisation (mask modules, output '
            f'norms), e.g. {kept[:4]}')
        return {**state_dict, **{k: own[k] for k in kept}}

    def optional_norms(self) -> Tuple[str, ...]:
        return ()


def _patch_macs_per_output(patch_embed: PatchEmbed) -> int:
    """Multiply-adds per output pixel and channel of a patch embedding."""
    weight = patch_embed.projection.weight
    return weight.shape[1] * weight.shape[2] * weight.shape[3]


def _init_module(module: nn.Module) -> None:
    # One pass in module order, so that the random draws stay those of
    # earlier versions.
    init_vit_weights(module)
    if isinstance(module, WindowMSA):
        trunc_normal_(module.relative_position_bias_table, std=.02)


@register_module(MODELS)
class LTMViT(_LTMBackboneMixin, BaseSparseBackbone):
    """LTM-ViT: a DeiT-style ViT whose blocks are LTM blocks.

    The block follows the published description of LTM (soft N x N'
    merging mask fed by the previous block's mask, near-zero added
    parameters), not released code; see :mod:`..layers.token_merge`.
    The cls token is never merged and goes through every MLP.

    A plain ViT (``is_plain``): as in mmpretrain's ``VisionTransformer``,
    a stage is one block, so ``out_indices`` and ``frozen_stages`` count
    blocks (``(2, 5, 8, 11)`` are the taps of ViT + UperNet), each output
    is a stride-16 map, and the final norm ``norm{num_layers - 1}``
    (mmpretrain's ``ln1``) applies to the last block's output only.
    ``frozen_stages=k`` freezes the stem (``patch_embed``, ``cls_token``,
    ``pos_embed``) and blocks 0..k-1, and with k = num_layers also the
    final norm. Parameters keep mmpretrain's names (``layers.{i}``; its
    ``ln1`` is mapped on loading), so ``VisionTransformer`` (e.g.
    ``deit-small``) weights load with ``init_cfg=dict(type='Pretrained',
    ...)``; a checkpoint's pos_embed must be of the same grid.

    Args:
        arch (str | dict): ``'small'`` (``'s'``, DeiT-S) or ``'base'``
            (``'b'``, DeiT-B), or a dict with keys **embed_dims**,
            **num_layers** (at least 4), **num_heads** and
            **feedforward_channels**.
        img_size (int): Input size the position embedding is stored for;
            other sizes interpolate it bicubically. Defaults to 224.
        patch_size (int): Patch side. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        keep_ratios (float | Sequence[float]): Keep ratio r in (0, 1] of
            each of 4 consecutive groups of blocks (blocks 0-2, 3-5, 6-8,
            9-11 for 12 layers; block i is in group j if
            i <= round((j + 1) L / 4) - 1), or one for all. A block reuses
            the previous block's mask when their ratios are equal.
            Defaults to 0.75.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0. Defaults to 0.
        out_type (str): ``'featmap'``: (B, C, H/16, W/16) maps of the blocks
            in ``out_indices``; ``'cls_token'``: ``(cls,)`` with cls
            (B, C) after the final norm, for mmpretrain's linear heads
            (``out_indices`` is then ignored). Defaults to ``'featmap'``.
        out_indices (int | Sequence[int]): Blocks whose outputs are
            returned; negative indices count from the last. Defaults to -1.
        record_masks (bool): Keep every block's merging mask in
            ``last_stats.records`` (for visualisation). Defaults to False.
        **kwargs: ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``init_cfg`` of :class:`BaseSparseBackbone`.
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['s', 'small', 'deit-s', 'deit-small'], {
            'embed_dims': 384, 'num_layers': 12, 'num_heads': 6,
            'feedforward_channels': 1536}),
        **dict.fromkeys(['b', 'base', 'deit-b', 'deit-base'], {
            'embed_dims': 768, 'num_layers': 12, 'num_heads': 12,
            'feedforward_channels': 3072}),
    }
    # yapf: enable
    essential_keys = ('embed_dims', 'num_layers', 'num_heads',
                      'feedforward_channels')
    stem_names = ('patch_embed', 'cls_token', 'pos_embed')
    out_types = ('featmap', 'cls_token')
    is_plain = True
    num_extra_tokens = 1

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 img_size: int = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 keep_ratios: Union[float, Sequence[float]] = 0.75,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = -1,
                 record_masks: bool = False,
                 **kwargs) -> None:
        super().__init__(
            arch, out_indices=out_indices, out_type=out_type, **kwargs)
        self.record_masks = record_masks
        settings = self.arch_settings
        self.embed_dims = settings['embed_dims']
        num_layers = settings['num_layers']
        if num_layers < NUM_RATIO_GROUPS:
            raise ValueError(f'LTMViT needs at least {NUM_RATIO_GROUPS} '
                             f'layers (one per keep-ratio group), got '
                             f'{num_layers}')
        self.keep_ratios = _keep_ratios(keep_ratios, NUM_RATIO_GROUPS,
                                        'group of blocks')
        # Last block of each keep-ratio group: round((j + 1) L / 4) - 1.
        self.group_ends = tuple(
            math.floor((j + 1) * num_layers / NUM_RATIO_GROUPS + 0.5) - 1
            for j in range(NUM_RATIO_GROUPS))

        self.patch_size = patch_size
        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=self.embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size,
            bias=True)
        self.pos_grid = (img_size // patch_size, ) * 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        self.pos_embed = nn.Parameter(
            torch.zeros(1,
                        math.prod(self.pos_grid) + 1, self.embed_dims))
        rates = drop_path_rates(drop_path_rate, num_layers)
        self.layers = nn.ModuleList([
            LTMTransformerLayer(
                self.embed_dims,
                settings['num_heads'],
                settings['feedforward_channels'],
                self.block_keep_ratio(i),
                drop_path=rates[i],
                # The previous mask fits only at the same ratio.
                use_prev_mask=i > 0
                and self.block_keep_ratio(i) == self.block_keep_ratio(i - 1))
            for i in range(self.last_stage + 1)
        ])
        if self.last_stage == num_layers - 1:
            self.add_module(f'norm{num_layers - 1}',
                            nn.LayerNorm(self.embed_dims, eps=1e-6))
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        self.apply(_init_module)
        self._freeze_stages()

    @property
    def num_stages(self) -> int:
        """One stage per block (mmpretrain's ``VisionTransformer``)."""
        return self.arch_settings['num_layers']

    @property
    def stage_strides(self) -> Tuple[int, ...]:
        return (self.patch_size, ) * self.num_stages

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return (self.embed_dims, ) * self.num_stages

    def group_of(self, layer: int) -> int:
        """Index of the keep-ratio group of block ``layer``."""
        return next(i for i, end in enumerate(self.group_ends) if layer <= end)

    def block_keep_ratio(self, layer: int) -> float:
        """The keep ratio r of block ``layer``."""
        return self.keep_ratios[self.group_of(layer)]

    @property
    def feature_info(self) -> List[dict]:
        return [
            dict(
                num_chs=self.embed_dims,
                reduction=self.patch_size,
                module=f'layers.{i}') for i in self.out_indices
        ]

    def stage_module_names(self, index: int) -> List[str]:
        names = [f'layers.{index}'] if index < len(self.layers) else []
        if self.out_norm(index) is not None:
            names.append(f'norm{index}')
        return names

    def block_prefixes(self) -> List[str]:
        return [f'layers.{i}' for i in range(len(self.layers))]

    def legacy_key_renames(self) -> List[Tuple[str, str]]:
        # Before _version 2 the final norm was mmpretrain's ``ln1``.
        return [(r'^ln1\.', f'norm{self.num_stages - 1}.')]

    def convert_state_dict(
            self, state_dict: Dict[str,
                                   torch.Tensor]) -> Dict[str, torch.Tensor]:
        """mmpretrain ``VisionTransformer`` checkpoints: their final norm
        ``ln1`` is ``norm{num_layers - 1}``; mask modules they lack keep
        their initialisation."""
        final = f'norm{self.num_stages - 1}.'
        state_dict = {
            final + k[len('ln1.'):] if k.startswith('ln1.') else k: v
            for k, v in state_dict.items()
        }
        return super().convert_state_dict(state_dict)

    def complexity(self, height: int, width: int) -> int:
        """Analytic multiply-adds of one image (``specs/ltm.md`` s. 2)."""
        C = self.embed_dims
        hidden = self.arch_settings['feedforward_channels']
        N = math.ceil(height / self.patch_size) * math.ceil(
            width / self.patch_size)
        macs = N * C * _patch_macs_per_output(self.patch_embed)
        T = N + 1
        for layer in self.layers:
            kept = num_merged_tokens(N, layer.keep_ratio)
            macs += 4 * T * C * C + 2 * T * T * C  # qkv, proj, products
            macs += merge_macs(N, kept, C, num_extra=1)
            macs += 2 * (kept + 1) * C * hidden  # MLP on merged tokens
        return macs

    def forward_stem(self, x: torch.Tensor) -> _LTMState:
        x, hw_shape = self.patch_embed(x)
        cls_token = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls_token, x], dim=1) + resize_pos_embed(
            self.pos_embed, self.pos_grid, hw_shape)
        return _LTMState(x, tuple(hw_shape))

    def forward_stage(self, index: int, state: _LTMState) -> _LTMState:
        layer = self.layers[index]
        state.x, state.mask, seeds = self.run_block(layer, state.x,
                                                    state.mask)
        self._record(state, layer, seeds, state.hw_shape)
        return state

    def stage_tokens(self, index: int,
                     state: _LTMState) -> Tuple[torch.Tensor, Tuple[int, int]]:
        return state.x[:, self.num_extra_tokens:], state.hw_shape

    def forward_pooled(self, state: _LTMState) -> torch.Tensor:
        # cls_token: the final norm is per token, so only the cls is normed.
        return self.out_norm(self.num_stages - 1)(state.x[:, 0])


@register_module(MODELS)
class LTMSwin(_LTMBackboneMixin, BaseSparseBackbone):
    """LTM-Swin: a Swin Transformer whose blocks are LTM blocks.

    Merging happens inside each (shifted) window after window attention:
    each window of ``window_size**2`` tokens is merged into
    round(r * window_size**2) tokens for the MLP. The block follows the
    published description of LTM (soft N x N' merging mask fed by the
    previous block's mask, near-zero added parameters), not released code;
    see :mod:`..layers.token_merge`. The previous mask is that of the
    previous block of the same stage (same window count and shape), read by
    window position.

    Outputs are (B, C_i, ceil(H / s), ceil(W / s)) maps, s = 4, 8, 16, 32,
    after output norms ``norm{i}``, for any input size (padded to the patch
    size and to the window as Swin does). Parameter names are those of
    mmpretrain's ``SwinTransformer`` (``patch_embed``,
    ``stages.{i}.blocks.{j}``, ``stages.{i}.downsample``, ``norm{i}``), so
    its weights load with ``init_cfg=dict(type='Pretrained', ...)``.
    ``frozen_stages=k`` freezes ``patch_embed`` and stages 0..k-1 with
    their downsampling and output norms.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (or ``'t'``,
            ``'s'``, ``'b'``), or a dict with keys **embed_dims** (int,
            stage-0 channels), **depths** and **num_heads** (4 each).
        in_channels (int): Image channels. Defaults to 3.
        patch_size (int): Patch side. Defaults to 4.
        window_size (int): Window side. Defaults to 7.
        keep_ratios (float | Sequence[float]): Keep ratio r in (0, 1] of
            each stage (or one for all). Defaults to 0.75.
        mlp_ratio (float): MLP expansion. Defaults to 4.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0. Defaults to 0.
        out_type (str): ``'featmap'``: the maps of ``out_indices``;
            ``'avg_featmap'``: ``(pooled,)`` with pooled (B, C) the mean of
            the last stage's tokens after ``norm3`` (mmpretrain's Swin +
            ``GlobalAveragePooling``), for linear heads without a neck
            (``out_indices`` is then ignored). Defaults to ``'featmap'``.
        record_masks (bool): Keep every block's merging mask in
            ``last_stats.records`` (for visualisation). Defaults to False.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``,
            ``with_cp``, ``init_cfg`` of :class:`BaseSparseBackbone`.
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': 96,
            'depths':     [2, 2, 6, 2],
            'num_heads':  [3, 6, 12, 24]}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': 96,
            'depths':     [2, 2, 18, 2],
            'num_heads':  [3, 6, 12, 24]}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': 128,
            'depths':     [2, 2, 18, 2],
            'num_heads':  [4, 8, 16, 32]}),
    }
    # yapf: enable
    essential_keys = ('embed_dims', 'depths', 'num_heads')
    per_stage_keys = ('depths', 'num_heads')
    stem_names = ('patch_embed', )
    out_types = ('featmap', 'avg_featmap')

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 patch_size: int = 4,
                 window_size: int = 7,
                 keep_ratios: Union[float, Sequence[float]] = 0.75,
                 mlp_ratio: float = 4.,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 record_masks: bool = False,
                 **kwargs) -> None:
        super().__init__(
            arch, out_indices=out_indices, out_type=out_type, **kwargs)
        self.record_masks = record_masks
        settings = self.arch_settings
        depths = list(settings['depths'])
        heads = list(settings['num_heads'])
        self.embed_dims = tuple(settings['embed_dims'] * 2**i
                                for i in range(self.num_stages))
        self.keep_ratios = _keep_ratios(keep_ratios, self.num_stages, 'stage')
        self.window_size = window_size
        last_stage = self.last_stage

        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=self.embed_dims[0],
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size,
            norm_cfg=dict(type='LN'))
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))
        self.stages = nn.ModuleList()
        for i in range(last_stage + 1):
            dims = self.embed_dims[i]
            blocks = [
                LTMSwinBlock(
                    dims,
                    heads[i],
                    window_size,
                    shift=j % 2 == 1,
                    keep_ratio=self.keep_ratios[i],
                    mlp_ratio=mlp_ratio,
                    drop_path=next(rates),
                    use_prev_mask=j > 0) for j in range(depths[i])
            ]
            downsample = _PatchMerging(
                dims, 2 * dims) if i < last_stage else None
            self.stages.append(_LTMSwinStage(blocks, downsample))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.embed_dims[i]))
        self.apply(_init_module)
        self._freeze_stages()

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return self.embed_dims

    def optional_norms(self) -> Tuple[str, ...]:
        return tuple(f'norm{i}' for i in self.out_indices)

    def complexity(self, height: int, width: int) -> int:
        """Analytic multiply-adds of one image (``specs/ltm.md`` s. 2)."""
        ws = self.window_size
        N = ws * ws
        patch = self.patch_embed.projection.weight.shape[-1]
        h, w = math.ceil(height / patch), math.ceil(width / patch)
        macs = h * w * self.embed_dims[0] * _patch_macs_per_output(
            self.patch_embed)
        for i, stage in enumerate(self.stages):
            C = self.embed_dims[i]
            windows = math.ceil(h / ws) * math.ceil(w / ws)
            for block in stage.blocks:
                kept = num_merged_tokens(N, block.keep_ratio)
                hidden = block.ffn.layers[1].in_features
                per_window = 4 * N * C * C + 2 * N * N * C
                per_window += merge_macs(N, kept, C) + 2 * kept * C * hidden
                macs += windows * per_window
            if stage.downsample is not None:
                h, w = math.ceil(h / 2), math.ceil(w / 2)
                macs += h * w * 4 * C * 2 * C
        return macs

    def forward_stem(self, x: torch.Tensor) -> _LTMState:
        x, hw_shape = self.patch_embed(x)
        return _LTMState(x, tuple(hw_shape))

    def forward_stage(self, index: int, state: _LTMState) -> _LTMState:
        if index:  # the previous stage's patch merging
            state.x, state.hw_shape = self.stages[index - 1].downsample(
                state.x, state.hw_shape)
        state.mask = None  # masks are carried within a stage
        for block in self.stages[index].blocks:
            state.x, state.mask, seeds = self.run_block(
                block, state.x, state.hw_shape, state.mask)
            self._record(state, block, seeds, state.hw_shape)
        return state

    def stage_tokens(self, index: int,
                     state: _LTMState) -> Tuple[torch.Tensor, Tuple[int, int]]:
        return state.x, state.hw_shape

    def forward_pooled(self, state: _LTMState) -> torch.Tensor:
        # avg_featmap: the mean of the last stage's tokens after norm3.
        return self.out_norm(self.num_stages - 1)(state.x).mean(dim=1)
