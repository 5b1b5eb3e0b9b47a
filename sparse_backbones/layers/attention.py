# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Multi-head attention: SDPA or explicit products, chosen per call; the
explicit products are the reference."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .precision import float32_region, fp16_in_play


# On CPU the flash kernel's blocking costs more than it saves over few keys
# (windows, meta tokens, the last stage): the explicit products run
# 1.2-2.8x faster at <= 64 keys (2-core EPYC, batch 16), and their logits
# stay small (at most 64 per query and head).
CPU_EXPLICIT_MAX_KEYS = 64
# With an additive bias over more keys (measured on LIT's whole-map
# relative positions, whose CPU path now has its own chunked products) the
# CPU kernel runs 1.2-1.4x slower than the explicit products; they are
# taken up to this many logits (256 MB in fp32), past which the kernel's
# blocking keeps memory flat.
CPU_EXPLICIT_MAX_BIASED_LOGITS = 2**26


def multi_head_attention(query: torch.Tensor,
                         key: torch.Tensor,
                         value: torch.Tensor,
                         scale: Optional[float] = None,
                         bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q k^T * scale + bias) v over (B, heads, tokens, head_dims).

    Runs ``F.scaled_dot_product_attention``, except on CPU where the
    explicit products of :func:`attention_reference` are faster (see
    :func:`_cpu_explicit_is_faster`). Both compute the same function; the
    tests hold them equal.

    Args:
        query (Tensor): (B, h, Nq, d).
        key (Tensor): (B, h, Nk, d).
        value (Tensor): (B, h, Nk, d).
        scale (float, optional): Logit scale. Defaults to ``d ** -0.5``.
        bias (Tensor, optional): Additive logit bias broadcastable to
            (B, h, Nq, Nk): relative positions, shifted-window masks.

    Returns:
        Tensor: (B, h, Nq, d).
    """
    if _cpu_explicit_is_faster(query, key, bias):
        return attention_reference(query, key, value, scale, bias)
    return F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=None if bias is None else bias.to(query.dtype),
        scale=scale)


def attention_reference(query: torch.Tensor,
                        key: torch.Tensor,
                        value: torch.Tensor,
                        scale: Optional[float] = None,
                        bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """:func:`multi_head_attention` by explicit products (the reference).

    With float16 in play the logits and softmax run in float32 (they would
    overflow past 65504); the result has ``value``'s dtype.
    """
    if fp16_in_play(query):
        with float32_region(query):
            out = attention_reference(
                query.float(), key.float(), value.float(), scale,
                None if bias is None else bias.float())
        return out.to(value.dtype)
    if scale is None:
        scale = query.shape[-1]**-0.5
    # Scaled before the product, on the side with fewer tokens (the meta
    # tokens of a cross-attention): one pass over (min(Nq, Nk), d), not
    # over the (Nq, Nk) logits.
    if key.shape[-2] < query.shape[-2]:
        attn = query @ (key * scale).transpose(-2, -1)
    else:
        attn = (query * scale) @ key.transpose(-2, -1)
    if bias is not None:
        attn += bias  # in place: one (Nq, Nk) buffer fewer
    return attn.softmax(dim=-1) @ value


def _cpu_explicit_is_faster(query: torch.Tensor, key: torch.Tensor,
                            bias: Optional[torch.Tensor]) -> bool:
    """On CPU: at most :data:`CPU_EXPLICIT_MAX_KEYS` keys, or a bias and
    at most :data:`CPU_EXPLICIT_MAX_BIASED_LOGITS` logits."""
    if torch.compiler.is_exporting():
        # One graph for every size: the choice would pin batch and H, W.
        return True
    if query.device.type != 'cpu':
        return False
    if key.shape[-2] <= CPU_EXPLICIT_MAX_KEYS:
        return True
    logits = query.shape[:-1].numel() * key.shape[-2]
    return bias is not None and logits <= CPU_EXPLICIT_MAX_BIASED_LOGITS


class Attention(nn.Module):
    """Global multi-head self-attention over a token sequence.

    Args:
        embed_dims (int): Token channels C.
        num_heads (int): Number of heads; C must be divisible by it.
        qkv_bias (bool): Bias in the packed q/k/v projection.
            Defaults to True.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by num_heads ({num_heads})')
        self.num_heads = num_heads
        # Rows are [q; k; v], each split into contiguous heads (timm layout).
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        # (B, N, 3C) -> (3, B, h, N, d)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = multi_head_attention(q, k, v)
        # (B, h, N, d) -> (B, N, C)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, C) -> (B, h, N, C / h)."""
    B, N, C = x.shape
    return x.reshape(B, N, num_heads, C // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, N, d) -> (B, N, h * d)."""
    B, h, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, h * d)
