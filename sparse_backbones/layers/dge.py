# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The Dynamic Grained Encoder block: a router picks, for every 4x4 region
of tokens, one of three query granularities; the block runs on the pooled
queries only and adds each query's update back to every token of its patch.

`Dynamic Grained Encoder for Vision Transformers
<https://arxiv.org/abs/2301.03831>`_ (L. Song, S. Zhang, S. Liu, Z. Li, X. He,
H. Sun, J. Sun, N. Zheng; NeurIPS 2021). Reference code:
https://github.com/StevenGrove/vtpack (its CUDA kernels are replaced by the
pure-PyTorch paths below).

Two paths compute the same function of the selected granularities:

- the dense path (training, and the reference at inference) encodes the
  queries of all three granularities and keeps, per region, the update of
  the one the gate selects (straight-through hard Gumbel-softmax in
  training, argmax at inference);
- the sparse path (inference) gathers only the selected queries of each
  sample, pads them to the batch maximum, runs the encoder once (one SDPA
  call) and gathers each token's update back from its query.

Query rows never interact inside a block (keys and values always come from
the full token set), so the two paths agree up to float rounding.
"""
import dataclasses
import functools
import math
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from torch.nn.init import trunc_normal_

from .attention import merge_heads, multi_head_attention, split_heads
from .mlp import Mlp
from .precision import float32_under_autocast
from .shape import nchw_to_nlc, nlc_to_nchw

# Side of a routing region, in tokens.
REGION_SIZE = 4
# Candidate splits per region side, finest first (option 0 = 16 queries).
SPLIT_SIZES = (4, 2, 1)
# Pooling window (tokens per query side) of each option; each twice the
# last, which the pooling relies on.
WINDOWS = tuple(REGION_SIZE // s for s in SPLIT_SIZES)
assert WINDOWS == (1, 2, 4)


def finest_split_bias(
    probability: float = 0.95,
    num_options: int = len(SPLIT_SIZES)
) -> torch.Tensor:
    """Router bias giving ``probability`` to the finest split at init.

    The biases are ``(b, -b, ..., -b)`` with
    ``b = log(sqrt(p (1 - K) / (p - 1)))`` (the reference code's formula), so
    that softmax gives ``p`` to option 0 and ``(1 - p) / (K - 1)`` to each
    other option: training starts from an almost vanilla (all-fine) model.
    """
    b = math.log(
        math.sqrt(probability * (1 - num_options) / (probability - 1)))
    bias = torch.full((num_options, ), -b)
    bias[0] = b
    return bias


@dataclasses.dataclass(frozen=True)
class _RegionLayout:
    """Index tables of one token grid, shared by every block that sees it.

    Candidates are the queries of all options in the order the blocks
    concatenate them: the padded grid's tokens (option 0, window 1), then
    the 2x2 means (option 1), then the 4x4 means (option 2), each in raster
    order.

    Args:
        padded_shape: (Hp, Wp), the grid padded to a multiple of
            :data:`REGION_SIZE`.
        inv_counts: Per window after the first, what its patch sums are
            multiplied by to give means of the valid tokens: ``1 / w^2``,
            or a (1, Hp / w, Wp / w, 1) tensor when the grid is padded.
        per_option: (Rh, Rw, 3) non-empty queries of each option per
            region.
        token_region: (H * W, ) region of every token.
        token_candidate: (3, H * W) candidate of every token's patch under
            each option.
        candidate_region: (L, ) region of every candidate.
        candidate_option: (L, ) option of every candidate.
        candidate_valid: (L, ) whether a candidate covers a real token.
    """
    padded_shape: Tuple[int, int]
    inv_counts: Tuple[Union[float, torch.Tensor], ...]
    per_option: torch.Tensor
    token_region: torch.Tensor
    token_candidate: torch.Tensor
    candidate_region: torch.Tensor
    candidate_option: torch.Tensor
    candidate_valid: torch.Tensor


@functools.lru_cache(maxsize=32)
def _region_layout(H: int, W: int, device: torch.device) -> _RegionLayout:
    """The :class:`_RegionLayout` of an H x W grid, built once per grid
    and device instead of once per block (a dozen small ops each)."""
    # Normal tensors even when first called under inference mode: later
    # training passes save them for backward.
    with torch.inference_mode(False), torch.no_grad():
        Hp = math.ceil(H / REGION_SIZE) * REGION_SIZE
        Wp = math.ceil(W / REGION_SIZE) * REGION_SIZE
        Rh, Rw = Hp // REGION_SIZE, Wp // REGION_SIZE
        valid = torch.zeros(Hp, Wp)
        valid[:H, :W] = 1
        rows, cols = torch.arange(H), torch.arange(W)
        token_region = (rows[:, None] // REGION_SIZE * Rw +
                        cols[None] // REGION_SIZE).flatten()
        inv_counts, per_option, token_candidate = [], [], []
        candidate_region, candidate_option, candidate_valid = [], [], []
        offset = 0
        for option, w in enumerate(WINDOWS):
            h, wd = Hp // w, Wp // w
            count = valid.reshape(h, w, wd, w).sum((1, 3))
            if option:
                inv_counts.append(1 / (w * w) if (Hp, Wp) == (H, W) else (
                    1 / count.clamp(min=1)).reshape(1, h, wd, 1).to(device))
            per_region = REGION_SIZE // w
            per_option.append((count > 0).reshape(Rh, per_region, Rw,
                                                  per_region).sum((1, 3)))
            token_candidate.append(offset + (rows[:, None] // w * wd +
                                             cols[None] // w).flatten())
            candidate_region.append(
                (torch.arange(h)[:, None] // per_region * Rw +
                 torch.arange(wd)[None] // per_region).flatten())
            candidate_option.append(torch.full((h * wd, ), option))
            candidate_valid.append(count.flatten() > 0)
            offset += h * wd
        return _RegionLayout(
            (Hp, Wp), tuple(inv_counts),
            torch.stack(per_option, -1).float().to(device),
            token_region.to(device),
            torch.stack(token_candidate).to(device),
            torch.cat(candidate_region).to(device),
            torch.cat(candidate_option).to(device),
            torch.cat(candidate_valid).to(device))


def _pool_queries(tokens: torch.Tensor,
                  layout: _RegionLayout) -> List[torch.Tensor]:
    """The queries of every option: the tokens, then the mean of the valid
    tokens of every 2x2 and 4x4 patch.

    Args:
        tokens (Tensor): (B, H, W, C) the grid's tokens.
        layout (_RegionLayout): Its layout.

    Returns:
        list[Tensor]: (B, Hp * Wp / w^2, C) per window w, raster order;
        zero on padded tokens.
    """
    B, H, W, C = tokens.shape
    Hp, Wp = layout.padded_shape
    if (Hp, Wp) != (H, W):
        tokens = F.pad(tokens, (0, 0, 0, Wp - W, 0, Hp - H))
    queries = [tokens.reshape(B, Hp * Wp, C)]
    # Each window twice the last: 2x2 sums of the last sums, by adding
    # strided views (channels stay innermost; 6-20x faster than pooling
    # an NCHW copy on CPU).
    sums = tokens
    for inv_count in layout.inv_counts:
        pairs = sums[:, 0::2] + sums[:, 1::2]
        sums = pairs[:, :, 0::2] + pairs[:, :, 1::2]
        queries.append((sums * inv_count).reshape(B, -1, C))
    return queries


def _gather_rows(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``rows[b, index[b, i]]`` for (B, L, C) rows and (B, M) indices: one
    ``index_select`` of whole rows (``gather`` reads an index per
    element)."""
    B, L, C = rows.shape
    flat = index + torch.arange(B, device=index.device)[:, None] * L
    return rows.reshape(B * L, C).index_select(0, flat.flatten()).view(
        B, -1, C)


class DGEAttention(nn.Module):
    """Multi-head attention of separate queries over a token set.

    Queries come from the (pooled) DGE queries; keys and values from all
    tokens, spatially reduced by a strided convolution + LayerNorm when
    ``sr_ratio > 1`` (PVT v1). Parameter names follow the reference code
    (``q``, ``kv``, ``sr``, ``norm``, ``proj``).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads; C must be divisible by it.
        sr_ratio (int): Spatial reduction of keys/values. Defaults to 1.
        qkv_bias (bool): Bias of the q and kv projections. Defaults to True.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 sr_ratio: int = 1,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, 2 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(
                embed_dims, embed_dims, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims)  # eps 1e-5 as PVT v1

    def num_keys(self, hw_shape: Tuple[int, int], num_extra: int) -> int:
        H, W = hw_shape
        if self.sr_ratio == 1:
            return num_extra + H * W
        return num_extra + (H // self.sr_ratio) * (W // self.sr_ratio)

    def keys_values(self, tokens: torch.Tensor, hw_shape: Tuple[int, int],
                    num_extra: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, N, C) normalised tokens -> keys, values (B, h, N_kv, d)."""
        if self.sr_ratio > 1:
            H, W = hw_shape
            if H < self.sr_ratio or W < self.sr_ratio:
                raise ValueError(
                    f'a {H}x{W} token grid is smaller than the spatial '
                    f'reduction {self.sr_ratio} of this stage; use a larger '
                    f'input image')
            grid = self.sr(nlc_to_nchw(tokens[:, num_extra:], hw_shape))
            tokens = torch.cat(
                [tokens[:, :num_extra],
                 self.norm(nchw_to_nlc(grid))], dim=1)
        k, v = self.kv(tokens).chunk(2, dim=-1)
        return split_heads(k, self.num_heads), split_heads(v, self.num_heads)

    def forward(self, queries: torch.Tensor, key: torch.Tensor,
                value: torch.Tensor) -> torch.Tensor:
        q = split_heads(self.q(queries), self.num_heads)
        out = merge_heads(multi_head_attention(q, key, value))
        return self.proj(out)


class DGEBlock(nn.Module):
    """A pre-norm transformer block whose queries a router makes sparse.

    The router (average pool over each 4x4 region of the un-normalised block
    input + one ``Linear(C, 3)``) chooses a split of 4, 2 or 1 per region
    side, i.e. 16, 4 or 1 queries per region, each the mean of its patch of
    the un-normalised input. The block computes
    ``update = attn(norm1(q), norm1(x)) + mlp(norm2(q + attn))`` for the
    queries only and adds each query's update to every token of its patch;
    extra tokens (cls) are always their own queries. The token count never
    changes. With every region at split 4 the block is the vanilla block.

    Grids that are not a multiple of the region size are padded inside the
    block: padded positions are excluded from the means, produce no queries
    and are never keys.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden width over C.
        sr_ratio (int): Key/value spatial reduction (PVT). Defaults to 1.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        qkv_bias (bool): Bias of the q/kv projections. Defaults to True.
        sparse_inference (bool): At inference, compute only the selected
            queries (the fast path); False runs the dense reference path
            with the argmax gate. Defaults to True.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 mlp_ratio: float,
                 sr_ratio: int = 1,
                 drop_path: float = 0.,
                 qkv_bias: bool = True,
                 sparse_inference: bool = True) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.hidden_dims = int(embed_dims * mlp_ratio)
        self.sparse_inference = sparse_inference
        # eps 1e-6 as the reference DeiT/PVT blocks.
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = DGEAttention(embed_dims, num_heads, sr_ratio, qkv_bias)
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.mlp = Mlp(embed_dims, self.hidden_dims)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()
        self.router = nn.Linear(embed_dims, len(SPLIT_SIZES))
        self.reset_router()

    def reset_router(self, bias: Optional[torch.Tensor] = None) -> None:
        """Initialise the router: weights ~ TN(0.01), the given bias or
        :func:`finest_split_bias` (p = 0.95 for the finest split)."""
        trunc_normal_(self.router.weight, std=.01)
        with torch.no_grad():
            self.router.bias.copy_(finest_split_bias() if bias is
                                   None else torch.as_tensor(bias))

    # ------------------------------------------------------------ helpers
    def _gate(self, regions: torch.Tensor,
              layout: _RegionLayout) -> torch.Tensor:
        """(B, Rh, Rw, 3) one-hot gate from the (B, Rh * Rw, C) region
        means; differentiable (straight through)."""
        Rh, Rw = layout.per_option.shape[:2]
        # float32 under autocast: choices must not flip on rounding.
        region, regions = float32_under_autocast(regions)
        with region:
            return self._gate_from(
                self.router(regions).reshape(regions.shape[0], Rh, Rw, -1))

    def _gate_from(self, logits: torch.Tensor) -> torch.Tensor:
        if self.training:
            return F.gumbel_softmax(logits, tau=1.0, hard=True, dim=-1)
        hard = F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits)
        if not torch.is_grad_enabled():
            return hard
        # Argmax forward value, softmax gradient (so the router stays
        # trainable, e.g. by the budget loss, when autograd runs in eval).
        soft = logits.softmax(-1)
        return hard - soft.detach() + soft

    def _encode(self, queries: torch.Tensor, x: torch.Tensor,
                hw_shape: Tuple[int, int], num_extra: int) -> torch.Tensor:
        """Block update of (B, L, C) queries with keys/values from x."""
        key, value = self.attn.keys_values(self.norm1(x), hw_shape, num_extra)
        attn = self.drop_path(self.attn(self.norm1(queries), key, value))
        mlp = self.drop_path(self.mlp(self.norm2(queries + attn)))
        # q2 - q0 without the cancellation of subtracting q0.
        return attn + mlp

    # -------------------------------------------------------------- paths
    def forward(
        self, x: torch.Tensor, hw_shape: Tuple[int, int]
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the block.

        Args:
            x (Tensor): (B, E + H * W, C) tokens, E extra tokens first.
            hw_shape (tuple[int, int]): The token grid (H, W).

        Returns:
            tuple: ``(x, num_queries, choice)``: the (B, N, C) output, the
            (B,) number of queries each sample used (differentiable w.r.t.
            the router in training) and the (B, Rh, Rw) chosen option per
            region (0: split 4, 1: split 2, 2: split 1).
        """
        B, N, C = x.shape
        H, W = hw_shape
        num_extra = N - H * W
        if num_extra < 0:
            raise ValueError(f'{N} tokens cannot hold a {H}x{W} grid')
        layout = _region_layout(H, W, x.device)
        queries = _pool_queries(x[:, num_extra:].reshape(B, H, W, C), layout)
        # The router reads the region means: the split-1 queries.
        gate = self._gate(queries[-1], layout)
        num_queries = num_extra + (gate * layout.per_option).sum(
            dim=(1, 2, 3))
        queries = [x[:, :num_extra]] + queries
        # The sparse gather's query count depends on the data: an export
        # writes the dense path (every granularity, the same function).
        if self.training or not self.sparse_inference or \
                torch.compiler.is_exporting():
            out = self._dense(x, queries, gate, hw_shape, layout)
        else:
            out = self._sparse(x, queries, gate, hw_shape, layout)
        return out, num_queries, gate.detach().argmax(-1)

    def _dense(self, x, queries, gate, hw_shape, layout):
        """All granularities for every region, combined by the gate."""
        B, N, C = x.shape
        H, W = hw_shape
        Hp, Wp = layout.padded_shape
        num_extra = N - H * W
        lengths = [q.shape[1] for q in queries]
        delta = self._encode(torch.cat(queries, 1), x, hw_shape, num_extra)
        deltas = delta.split(lengths, dim=1)
        update = 0
        for option, (w, d) in enumerate(zip(WINDOWS, deltas[1:])):
            # (B, Hp/w * Wp/w, C) -> (B, Hp, Wp, C), each query's update
            # copied to the w x w tokens of its patch.
            d = d.reshape(B, Hp // w, Wp // w, C)
            d = d.repeat_interleave(w, 1).repeat_interleave(w, 2)
            g = gate[..., option].repeat_interleave(REGION_SIZE, 1)
            g = g.repeat_interleave(REGION_SIZE, 2)
            update = update + d * g[..., None]
        update = update[:, :H, :W].reshape(B, H * W, C)
        return x + torch.cat([deltas[0], update], dim=1)

    def _sparse(self, x, queries, gate, hw_shape, layout):
        """Only the selected queries: gather, pad to the batch maximum,
        encode once, gather each token's update back."""
        B, N, C = x.shape
        num_extra = N - hw_shape[0] * hw_shape[1]
        device = x.device
        choice = gate.detach().argmax(-1).flatten(1)  # (B, Rh * Rw)
        selected = (choice[:, layout.candidate_region]
                    == layout.candidate_option) & layout.candidate_valid
        selected = torch.cat(
            [selected.new_ones(B, num_extra), selected], dim=1)  # (B, L_all)
        length = int(selected.sum(1).max())
        # Stable sort puts each sample's selected candidates first, in
        # order (extra tokens, then split 4, 2, 1 queries in raster order).
        order = torch.sort(
            selected.to(torch.uint8), dim=1, descending=True,
            stable=True).indices[:, :length]
        packed = _gather_rows(torch.cat(queries, dim=1), order)
        delta = self._encode(packed, x, hw_shape, num_extra)  # (B, L, C)
        # Row of every selected candidate in delta; extra tokens are its
        # first rows.
        position = torch.zeros_like(selected, dtype=torch.long)
        position.scatter_(
            1, order,
            torch.arange(length, device=device).expand(B, -1).contiguous())
        token_choice = choice[:, layout.token_region]  # (B, H * W)
        candidate = num_extra + layout.token_candidate.gather(0, token_choice)
        index = torch.cat([
            torch.arange(num_extra, device=device).expand(B, -1),
            position.gather(1, candidate)
        ], dim=1)  # (B, N)
        update = _gather_rows(delta, index)
        if gate.requires_grad:
            # Selected gate value (1 forward) for the router's gradient.
            g = gate.flatten(1, 2).gather(-1, choice[..., None])[..., 0]
            g = torch.cat(
                [g.new_ones(B, num_extra), g[:, layout.token_region]], dim=1)
            update = update * g[..., None]
        return x + update

    # --------------------------------------------------------- complexity
    def macs(
            self, hw_shape: Tuple[int, int], num_extra: int,
            num_queries: Union[float,
                               torch.Tensor]) -> Union[float, torch.Tensor]:
        """Multiply-adds of the block for ``num_queries`` queries.

        Counts the matrix products, as :func:`~sparse_backbones.layers.
        complexity.count_macs` does: q and output projections and the MLP
        per query, the key/value path (spatial-reduction conv + kv
        projection) per token, the attention products per query and key,
        and the router. ``num_queries = E + H * W`` gives the static cost
        (every region at the finest split: the vanilla block + router).
        """
        H, W = hw_shape
        C, hidden = self.embed_dims, self.hidden_dims
        sr = self.attn.sr_ratio
        num_keys = self.attn.num_keys(hw_shape, num_extra)
        kv = 2 * num_keys * C * C
        if sr > 1:
            kv += (H // sr) * (W // sr) * C * C * sr * sr
        regions = math.ceil(H / REGION_SIZE) * math.ceil(W / REGION_SIZE)
        router = regions * C * len(SPLIT_SIZES)
        per_query = 2 * C * C + 2 * C * hidden + 2 * num_keys * C
        return num_queries * per_query + kv + router
