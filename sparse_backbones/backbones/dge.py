# Copyright (c) sparse_backbones contributors. All rights reserved.
# Modified from https://github.com/StevenGrove/vtpack (Apache-2.0 License)
"""DGE backbones: DeiT and PVT v1 hosts with a Dynamic Grained Encoder in
every block.

`Dynamic Grained Encoder for Vision Transformers
<https://arxiv.org/abs/2301.03831>`_ (L. Song, S. Zhang, S. Liu, Z. Li, X. He,
H. Sun, J. Sun, N. Zheng; NeurIPS 2021).

Each block routes every 4x4 region of its token grid to 16, 4 or 1 queries
(:class:`~sparse_backbones.layers.dge.DGEBlock`); the token count between
blocks never changes, so the hosts keep their outputs. The realised cost of
the last forward is in :attr:`last_stats` (a
:class:`~sparse_backbones.backbones.base.DynamicStats` built from the
blocks' records), which the registered ``BudgetLoss`` turns into
``loss_weight * (flops_ratio - budget) ** 2``.

Layout: ``DGEDeiT.stages[i]`` is block i (a plain ViT: ``out_indices`` and
``frozen_stages`` count blocks, as in mmpretrain's ``VisionTransformer``;
the final norm is ``norm{depth - 1}``); ``DGEPVT.stages[i]`` is PVT stage
i + 1 (its patch embedding as ``downsample``, its position embedding, its
blocks, and in the last stage the cls token; the final norm ``norm3``).
:func:`~sparse_backbones.converters.convert_dge` maps the reference
checkpoints.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch.nn.init import trunc_normal_

from ..layers import (PatchEmbed, drop_path_rates, init_vit_weights,
                      nlc_to_nchw, resize_pos_embed)
from ..layers.dge import DGEBlock
from ..registry import MODELS, register_module
from .base import BaseSparseBackbone, DynamicStats


@dataclass
class _DGEState:
    """What the stages pass on: the tokens and the blocks' records."""
    x: torch.Tensor  # (B, E + H * W, C), E extra (cls) tokens first
    hw_shape: Tuple[int, int]
    # Per block run: (block, hw_shape, num_extra, num_queries, choice).
    records: list

    @property
    def num_extra(self) -> int:
        return self.x.shape[1] - self.hw_shape[0] * self.hw_shape[1]


class _DGEMixin:
    """What the DGE backbones share: running their blocks with records,
    the statistics from those records and the routers' bias."""

    def _run_dge_blocks(self, blocks: Sequence[DGEBlock],
                        state: _DGEState) -> _DGEState:
        x, hw_shape = state.x, state.hw_shape
        for block in blocks:
            x, num_queries, choice = self.run_block(block, x, hw_shape)
            state.records.append(
                (block, tuple(hw_shape),
                 x.shape[1] - hw_shape[0] * hw_shape[1], num_queries, choice))
        state.x = x
        return state

    def stage_tokens(self, index: int,
                     state: _DGEState) -> Tuple[torch.Tensor, tuple]:
        return state.x[:, state.num_extra:], state.hw_shape

    def forward_pooled(self, state: _DGEState) -> torch.Tensor:
        """``cls_token``: the final norm of the class token."""
        return self.out_norm(self.num_stages - 1)(state.x)[:, 0]

    def collect_stats(self, state: _DGEState) -> DynamicStats:
        """Realised / static multiply-adds of the blocks that ran.

        Static is the same model with every region at the finest split (the
        vanilla blocks plus the routers); stem and head are not counted, as
        in the reference.
        """
        dynamic, static = 0, 0.
        for block, hw_shape, num_extra, num_queries, _ in state.records:
            # float64: the totals exceed float32's exact integer range.
            dynamic = dynamic + block.macs(hw_shape, num_extra,
                                           num_queries.double())
            static += block.macs(hw_shape, num_extra,
                                 num_extra + hw_shape[0] * hw_shape[1])
        ratio = (dynamic / static).float()
        if not self.training:
            # Only the budget loss in training needs the graph; kept in
            # eval (e.g. while counting MACs) it would hold every
            # activation of the pass until the next one.
            ratio, dynamic = ratio.detach(), dynamic.detach()
        return DynamicStats(
            flops_ratio=ratio.mean(),
            sample_flops_ratio=ratio,
            dynamic_macs=dynamic,
            static_macs=static,
            gates=[r[4] for r in state.records],
            grid_shapes=[r[1] for r in state.records])

    def legacy_key_renames(self) -> List[Tuple[str, str]]:
        # The final norm was ``norm`` before output norms were norm{i}.
        return [(r'^norm\.', f'norm{self.num_stages - 1}.')]

    def convert_state_dict(self, state_dict):
        from ..converters import convert_dge
        return convert_dge(state_dict, self.img_size)

    def _init_dge_weights(self, router_bias: Optional[Sequence[float]]):
        self.apply(init_vit_weights)
        for block in self.dge_blocks():  # after the generic init
            block.reset_router(None if router_bias is None else torch.
                               tensor(router_bias, dtype=torch.float32))

    def dge_blocks(self) -> List[DGEBlock]:
        """The DGE blocks in depth order."""
        return [m for m in self.modules() if isinstance(m, DGEBlock)]

    def set_router_bias(self, bias: Sequence[float]) -> None:
        """Set the (3,) logit bias of every router (weights unchanged).

        For measuring the speed of an untrained model at a chosen operating
        point (see :func:`calibrate_router_bias`); training starts from the
        paper's init (finest split with p = 0.95).
        """
        bias = torch.tensor(bias, dtype=torch.float32)
        with torch.no_grad():
            for block in self.dge_blocks():
                block.router.bias.copy_(bias)


class _DGEStage(nn.Module):
    """Blocks of one stage, with the stage's downsampling, position
    embedding and cls token where the host has them."""

    def __init__(self,
                 blocks: Sequence[DGEBlock],
                 downsample: Optional[nn.Module] = None,
                 pos_embed: Optional[nn.Parameter] = None,
                 cls_token: Optional[nn.Parameter] = None) -> None:
        super().__init__()
        self.downsample = downsample
        self.pos_embed = pos_embed
        self.cls_token = cls_token
        self.blocks = nn.ModuleList(blocks)


@register_module(MODELS)
class DGEDeiT(_DGEMixin, BaseSparseBackbone):
    """DeiT with a Dynamic Grained Encoder in every block.

    A plain ViT (``is_plain``): stage i is block i, so ``out_indices`` and
    ``frozen_stages`` count blocks, as in mmpretrain's
    ``VisionTransformer``; the final norm is ``norm{depth - 1}``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (or ``'t'``,
            ``'s'``, ``'b'``), or a dict with keys:

            - **embed_dims** (int): channels C (192 / 384 / 768).
            - **depth** (int): blocks (12).
            - **num_heads** (int): heads (3 / 6 / 12).
            - **mlp_ratio** (float, optional): MLP expansion; 4.
            - **patch_size** (int, optional): patch side in pixels; 16.
        img_size (int): Input side the position embedding is made for; other
            sizes resize it (bicubic) at run time. 256 as the reference,
            whose 16x16 grid divides into 4x4 regions. Defaults to 256.
        in_channels (int): Image channels. Defaults to 3.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0. Defaults to 0.
        out_type (str): ``'featmap'``: the patch tokens after the blocks in
            ``out_indices`` as (B, C, H/16, W/16) maps (the last block's
            through the final norm, as mmpretrain's ``VisionTransformer``);
            ``'cls_token'``: ``(norm{depth - 1}(x)[:, 0],)`` for
            ``LinearClsHead``. Defaults to ``'featmap'``.
        out_indices (int | Sequence[int]): Blocks whose outputs are returned
            (``'featmap'`` only). Defaults to -1.
        router_bias (Sequence[float], optional): Initial logit bias of every
            router; None is the paper's init (finest split with p = 0.95).
            Defaults to None.
        sparse_inference (bool): At inference compute only the selected
            queries; False runs the dense reference path (all
            granularities, argmax gate). Defaults to True.
        **kwargs: ``frozen_stages`` (k freezes ``patch_embed``,
            ``cls_token``, ``pos_embed`` and the first k blocks),
            ``norm_eval``, ``with_cp``, ``init_cfg`` of
            :class:`BaseSparseBackbone`.

    The realised cost of the last forward is in :attr:`last_stats`.
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': 192, 'depth': 12, 'num_heads': 3}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': 384, 'depth': 12, 'num_heads': 6}),
        **dict.fromkeys(['b', 'base'], {
            'embed_dims': 768, 'depth': 12, 'num_heads': 12}),
    }
    # yapf: enable
    essential_keys = ('embed_dims', 'depth', 'num_heads')
    stem_names = ('patch_embed', 'cls_token', 'pos_embed')
    out_types = ('featmap', 'cls_token')
    is_plain = True
    is_dynamic = True

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 img_size: int = 256,
                 in_channels: int = 3,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = -1,
                 router_bias: Optional[Sequence[float]] = None,
                 sparse_inference: bool = True,
                 **kwargs) -> None:
        super().__init__(
            arch, out_indices=out_indices, out_type=out_type, **kwargs)
        settings = self.arch_settings
        dims = settings['embed_dims']
        depth = self.num_stages
        self.embed_dims = dims
        patch_size = settings.get('patch_size', 16)
        self.patch_embed = PatchEmbed(in_channels, dims, patch_size)
        self.img_size = img_size
        side = img_size // patch_size
        self.pos_grid = (side, side)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + side * side, dims))
        rates = drop_path_rates(drop_path_rate, depth)
        self.stages = nn.ModuleList([
            _DGEStage([
                DGEBlock(
                    dims,
                    settings['num_heads'],
                    settings.get('mlp_ratio', 4),
                    drop_path=rates[i],
                    sparse_inference=sparse_inference)
            ]) for i in range(self.last_stage + 1)
        ])
        if self.last_stage == depth - 1:
            self.add_module(f'norm{depth - 1}', nn.LayerNorm(dims, eps=1e-6))
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        self._init_dge_weights(router_bias)
        self._freeze_stages()

    @property
    def num_stages(self) -> int:
        return self.arch_settings['depth']

    @property
    def stage_strides(self) -> Tuple[int, ...]:
        return (self.arch_settings.get('patch_size', 16), ) * self.num_stages

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return (self.embed_dims, ) * self.num_stages

    def forward_stem(self, x: torch.Tensor) -> _DGEState:
        x, hw_shape = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.pos_grid, hw_shape,
                                 'bicubic', 1)
        return _DGEState(x, hw_shape, [])

    def forward_stage(self, index: int, state: _DGEState) -> _DGEState:
        return self._run_dge_blocks(self.stages[index].blocks, state)


@register_module(MODELS)
class DGEPVT(_DGEMixin, BaseSparseBackbone):
    """PVT v1 with a Dynamic Grained Encoder in every block.

    Stage i + 1 of PVT is ``stages[i]``: its patch embedding as
    ``downsample``, its position embedding, its blocks, and in the last
    stage the cls token. Like PVT v1, the maps have no output norms; the
    final norm (``norm3``, of the last stage's output) exists for the
    ``'cls_token'`` output only.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``, ``'large'``
            (or ``'t'``, ``'s'``, ``'m'``, ``'l'``), or a dict with keys:

            - **embed_dims** (Sequence[int]): widths of the 4 stages.
            - **depths** (Sequence[int]): blocks per stage.
            - **num_heads** (Sequence[int]): heads per stage.
            - **mlp_ratios** (Sequence[float], optional): [8, 8, 4, 4].
            - **sr_ratios** (Sequence[int], optional): key/value spatial
              reduction, [8, 4, 2, 1].
        img_size (int): Input side the position embeddings are made for;
            other sizes resize them (bilinear, as PVT) at run time.
            Defaults to 256 (the reference ``_256`` models).
        in_channels (int): Image channels. Defaults to 3.
        drop_path_rate (float): Stochastic depth of the last block, rising
            linearly from 0 over all blocks. Defaults to 0.
        out_type (str): ``'featmap'``: the maps of the stages in
            ``out_indices`` (NCHW, strides 4/8/16/32; the cls token of the
            last stage dropped), building only the stages they need;
            ``'cls_token'``: ``(norm3(x)[:, 0],)`` after the last stage, for
            ``LinearClsHead``. Defaults to ``'featmap'``.
        out_indices (int | Sequence[int]): Defaults to (0, 1, 2, 3).
        router_bias, sparse_inference: as :class:`DGEDeiT`.
        **kwargs: ``frozen_stages`` (0 freezes ``patch_embed`` and
            ``pos_embed``; k also the first k stages), ``norm_eval``,
            ``with_cp``, ``init_cfg`` of :class:`BaseSparseBackbone`.

    The realised cost of the last forward is in :attr:`last_stats`.
    """
    # yapf: disable
    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], {
            'embed_dims': [64, 128, 320, 512],
            'depths':     [2,  2,   2,   2],
            'num_heads':  [1,  2,   5,   8]}),
        **dict.fromkeys(['s', 'small'], {
            'embed_dims': [64, 128, 320, 512],
            'depths':     [3,  4,   6,   3],
            'num_heads':  [1,  2,   5,   8]}),
        **dict.fromkeys(['m', 'medium'], {
            'embed_dims': [64, 128, 320, 512],
            'depths':     [3,  4,   18,  3],
            'num_heads':  [1,  2,   5,   8]}),
        **dict.fromkeys(['l', 'large'], {
            'embed_dims': [64, 128, 320, 512],
            'depths':     [3,  8,   27,  3],
            'num_heads':  [1,  2,   5,   8]}),
    }
    # yapf: enable
    essential_keys = ('embed_dims', 'depths', 'num_heads')
    per_stage_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios',
                      'sr_ratios')
    stem_names = ('patch_embed', 'pos_embed')
    out_types = ('featmap', 'cls_token')
    is_dynamic = True

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 img_size: int = 256,
                 in_channels: int = 3,
                 drop_path_rate: float = 0.,
                 out_type: str = 'featmap',
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 router_bias: Optional[Sequence[float]] = None,
                 sparse_inference: bool = True,
                 **kwargs) -> None:
        super().__init__(
            arch, out_indices=out_indices, out_type=out_type, **kwargs)
        settings = self.arch_settings
        dims = list(settings['embed_dims'])
        depths = list(settings['depths'])
        heads = list(settings['num_heads'])
        mlp_ratios = list(settings.get('mlp_ratios', (8, 8, 4, 4)))
        sr_ratios = list(settings.get('sr_ratios', (8, 4, 2, 1)))
        self.embed_dims = tuple(dims)
        self.img_size = img_size
        # eps 1e-5 as PVT v1's patch embeddings.
        self.patch_embed = PatchEmbed(in_channels, dims[0], 4, norm_eps=1e-5)
        self.pos_grids = [(img_size // 4 // 2**i, ) * 2 for i in range(4)]
        self.pos_embed = nn.Parameter(
            torch.zeros(1, math.prod(self.pos_grids[0]), dims[0]))
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))
        self.stages = nn.ModuleList()
        for i in range(self.last_stage + 1):
            blocks = [
                DGEBlock(
                    dims[i],
                    heads[i],
                    mlp_ratios[i],
                    sr_ratio=sr_ratios[i],
                    drop_path=next(rates),
                    sparse_inference=sparse_inference)
                for _ in range(depths[i])
            ]
            is_last = i == self.num_stages - 1
            downsample = PatchEmbed(
                dims[i - 1], dims[i], 2, norm_eps=1e-5) if i > 0 else None
            self.stages.append(
                _DGEStage(
                    blocks,
                    downsample=downsample,
                    pos_embed=nn.Parameter(
                        torch.zeros(1,
                                    math.prod(self.pos_grids[i]) +
                                    is_last, dims[i])) if i > 0 else None,
                    cls_token=nn.Parameter(torch.zeros(1, 1, dims[i]))
                    if is_last else None))
        if out_type == 'cls_token':
            self.norm3 = nn.LayerNorm(dims[-1], eps=1e-6)
        for param in [self.pos_embed] + [
                s.pos_embed for s in self.stages if s.pos_embed is not None
        ]:
            trunc_normal_(param, std=.02)
        for stage in self.stages:
            if stage.cls_token is not None:
                trunc_normal_(stage.cls_token, std=.02)
        self._init_dge_weights(router_bias)
        self._freeze_stages()

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        return self.embed_dims

    def forward_stem(self, x: torch.Tensor) -> _DGEState:
        x, hw_shape = self.patch_embed(x)
        x = x + resize_pos_embed(self.pos_embed, self.pos_grids[0], hw_shape,
                                 'bilinear', 0)
        return _DGEState(x, hw_shape, [])

    def forward_stage(self, index: int, state: _DGEState) -> _DGEState:
        stage = self.stages[index]
        if stage.downsample is not None:
            # (B, H*W, C) -> (B, C, H, W) -> (B, H/2 * W/2, C')
            x, hw_shape = stage.downsample(
                nlc_to_nchw(state.x, state.hw_shape).contiguous())
            num_extra = 0
            if stage.cls_token is not None:
                x = torch.cat(
                    [stage.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
                num_extra = 1
            x = x + resize_pos_embed(stage.pos_embed, self.pos_grids[index],
                                     hw_shape, 'bilinear', num_extra)
            state.x, state.hw_shape = x, hw_shape
        return self._run_dge_blocks(stage.blocks, state)


@torch.no_grad()
def calibrate_router_bias(backbone: nn.Module,
                          inputs: torch.Tensor,
                          budget: float,
                          steps: int = 20) -> float:
    """Set router biases so that an untrained model realises ``budget``.

    For benchmarking only: a freshly built DGE model prefers the finest
    split everywhere (the paper's init), so it runs slower than its host.
    This bisects a shift ``t`` of the router biases ``(t, 0, 0)`` until the
    eval-mode FLOPs ratio on ``inputs`` is ``budget``, which gives the
    per-region mixture of granularities a trained model at that budget has
    (the choices themselves are as random as the untrained router). Use a
    trained checkpoint for anything but speed.

    Args:
        backbone (nn.Module): A DGE backbone (:class:`DGEDeiT`,
            :class:`DGEPVT`).
        inputs (Tensor): (B, 3, H, W) images of the size to measure.
        budget (float): Target FLOPs ratio in (0, 1].

    Returns:
        float: The realised ratio on ``inputs``.
    """
    was_training = backbone.training
    backbone.eval()
    low, high = -10., 10.
    ratio = 1.
    for _ in range(steps):
        shift = (low + high) / 2
        backbone.set_router_bias((shift, 0., 0.))
        backbone(inputs)
        ratio = float(backbone.last_stats.flops_ratio)
        if ratio > budget:
            high = shift
        else:
            low = shift
    backbone.train(was_training)
    return ratio
