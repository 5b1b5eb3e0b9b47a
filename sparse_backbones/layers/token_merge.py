# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Soft token merging of LTM (Learnable Token Merging).

`Efficient Visual Transformer by Learnable Token Merging
<https://arxiv.org/abs/2407.15219>`_ (Y. Wang, Y. Yang; IEEE TPAMI 2025).

This follows the published description of the method (its figure: a soft
N x N' merging mask computed from the attention output and the previous
block's mask, merged tokens ``G^T Z``, near-zero added parameters), not
released code: the paper's mask-module equations are not public and the
official repository has no LTM block. The equations below are the ones this
project fixed (``specs/ltm.md`` section 2):

- seeds: N' = max(1, round(r N)) positions spread over the N tokens,
  ``seed_j = floor((j + 0.5) N / N')``;
- mask: ``q = LN_m(Z) W_m`` (``W_m``: C x 16, no bias) and
  ``G[i, :] = softmax_j(cos(q_i, q_seed_j) / tau
  + alpha log(G_prev[i, j] + 1e-6))`` with a learned temperature tau
  (initially 0.1) and a learned weight alpha (initially 0) on the previous
  block's mask;
- merge: ``X~_j = sum_i G[i, j] Z_i / sum_i G[i, j]``;
- unmerge: ``out_i = Z_i + sum_j G[i, j] U_j`` for the MLP outputs U of the
  merged tokens.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .precision import float32_under_autocast

#: Channels of the merge features q of the mask module.
MERGE_DIMS = 16
_LOG_EPS = 1e-6


def check_keep_ratio(keep_ratio: float) -> float:
    """Return ``keep_ratio`` as a float, or raise if it is not in (0, 1]."""
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio,
                                                      (int, float)):
        raise TypeError(f'keep ratio must be a number in (0, 1], got '
                        f'{keep_ratio!r}')
    if not 0 < keep_ratio <= 1:
        raise ValueError(
            f'keep ratio must be in (0, 1] (the fraction of tokens the MLP '
            f'sees after merging; 1 keeps every token), got {keep_ratio}')
    return float(keep_ratio)


def num_merged_tokens(num_tokens: int, keep_ratio: float) -> int:
    """N' = max(1, round(r N)), rounding halves up (not to even)."""
    return max(1, math.floor(keep_ratio * num_tokens + 0.5))


def spread_seeds(num_tokens: int,
                 num_seeds: int,
                 device: Optional[torch.device] = None) -> torch.Tensor:
    """Deterministic seed positions ``floor((j + 0.5) N / N')``.

    Evenly spread over the raster order of the N tokens; with N' = N every
    token is its own seed.

    Returns:
        Tensor: (N', ) int64, increasing.
    """
    if not 1 <= num_seeds <= num_tokens:
        raise ValueError(f'need 1 <= num_seeds <= num_tokens, got '
                         f'{num_seeds} seeds for {num_tokens} tokens')
    j = torch.arange(num_seeds, device=device)
    # Integer arithmetic: floor((2j + 1) N / (2 N')).
    return ((2 * j + 1) * num_tokens).div(2 * num_seeds, rounding_mode='floor')


def merge_tokens(tokens: torch.Tensor,
                 mask: torch.Tensor,
                 seeds: torch.Tensor,
                 may_lack_mass: bool = True) -> torch.Tensor:
    """Mask-weighted means of the tokens, one per seed.

    Args:
        tokens (Tensor): (B, N, C) attention outputs Z.
        mask (Tensor): (B, N, N') merging mask G (rows of tokens that must
            not contribute, e.g. padding, set to 0).
        seeds (Tensor): (N', ) seed positions.
        may_lack_mass (bool): Whether a seed can receive no mass (only when
            rows were zeroed: a seed's own row always gives it some).
            False skips that case's handling. Defaults to True.

    Returns:
        Tensor: (B, N', C). A seed that receives no mass keeps its own
        token.
    """
    mass = mask.sum(dim=1, keepdim=True)  # (B, 1, N')
    # Normalising the (N, N') mask is cheaper than the (N', C) result.
    weights = mask / mass.clamp_min(torch.finfo(mass.dtype).tiny)
    merged = weights.transpose(1, 2) @ tokens  # (B, N', C)
    if not may_lack_mass:
        return merged
    return torch.where(mass.transpose(1, 2) > 0, merged, tokens[:, seeds])


def unmerge_tokens(mask: torch.Tensor, merged: torch.Tensor) -> torch.Tensor:
    """Spread the merged tokens back over the grid: ``G @ U``.

    Args:
        mask (Tensor): (B, N, N').
        merged (Tensor): (B, N', C).

    Returns:
        Tensor: (B, N, C).
    """
    return mask @ merged


def merge_macs(num_tokens: int,
               num_seeds: int,
               embed_dims: int,
               num_extra: int = 0) -> int:
    """Multiply-adds of the mask module, merging and unmerging for one
    sequence (one image or one window), without the MLP.

    ``N C d`` (projection) + ``N N' d`` (cosine logits) + ``N N' C``
    (merge) + ``N N' C`` (unmerge), d = :data:`MERGE_DIMS`; E extra tokens
    (cls) take part in merging and unmerging as their own seeds.
    """
    N, M, C, E = num_tokens, num_seeds, embed_dims, num_extra
    return N * C * MERGE_DIMS + N * M * MERGE_DIMS + 2 * (N + E) * (M + E) * C


class TokenMergeMask(nn.Module):
    """The learnable mask module of an LTM block.

    Adds ``2 C + 16 C + 2`` parameters per block (LN, projection,
    temperature, previous-mask weight): LTM models have the parameter count
    of their host to 0.1 M.

    Args:
        embed_dims (int): Token channels C.
        use_prev_mask (bool): Whether the block gets a previous mask. The
            first block of a stage never does, and has no alpha.
            Defaults to True.
        init_temperature (float): Initial tau. Defaults to 0.1.
    """

    def __init__(self,
                 embed_dims: int,
                 use_prev_mask: bool = True,
                 init_temperature: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.proj = nn.Linear(embed_dims, MERGE_DIMS, bias=False)
        # tau is stored as log tau so that it stays positive.
        self.log_tau = nn.Parameter(torch.tensor(math.log(init_temperature)))
        self.alpha = nn.Parameter(torch.zeros(())) if use_prev_mask \
            else None

    def forward(self,
                tokens: torch.Tensor,
                seeds: torch.Tensor,
                prev_mask: Optional[torch.Tensor] = None,
                seed_valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the merging mask G.

        Args:
            tokens (Tensor): (B, N, C) attention outputs Z.
            seeds (Tensor): (N', ) seed positions.
            prev_mask (Tensor, optional): (B, N, N') mask of the previous
                block; ignored (alpha term dropped) if None, of another
                shape, or if the module has no alpha.
            seed_valid (Tensor, optional): (B, N') bool, False for seeds
                that must not receive mass (padding). Sequences without any
                valid seed keep all their seeds, so every row is defined.

        Returns:
            Tensor: (B, N, N') soft weights (float32 under autocast); each
            row sums to 1.
        """
        # float32 under autocast: 1 / tau scales the logits, and the log of
        # a previous mask's zeros is finite only above float16's 6e-8.
        region, tokens = float32_under_autocast(tokens)
        with region:
            return self._mask(
                tokens, seeds,
                None if prev_mask is None else prev_mask.to(tokens.dtype),
                seed_valid)

    def _mask(self, tokens: torch.Tensor, seeds: torch.Tensor,
              prev_mask: Optional[torch.Tensor],
              seed_valid: Optional[torch.Tensor]) -> torch.Tensor:
        q = F.normalize(self.proj(self.norm(tokens)), dim=-1)  # (B, N, d)
        # 1 / tau applied to the (N, d) side, not to the (N, N') logits.
        logits = (q * (-self.log_tau).exp()) @ q[:, seeds].transpose(1, 2)
        if self.alpha is not None and prev_mask is not None \
                and prev_mask.shape == logits.shape:
            logits = logits + self.alpha * torch.log(prev_mask + _LOG_EPS)
        if seed_valid is not None:
            usable = seed_valid | ~seed_valid.any(dim=-1, keepdim=True)
            logits = logits.masked_fill(~usable[:, None, :], float('-inf'))
        return logits.softmax(dim=-1)
