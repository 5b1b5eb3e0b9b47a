# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The parts of a forward pass that mixed precision must leave in float32.

float16 holds at most 65504 and 11 significant bits: attention logits of
large queries and keys, and their exponentials, leave its range, and
sampling positions past 2048 px lose whole pixels. Routing choices (DGE)
and merge masks (LTM) flip on rounding in either half type. These run in
float32 under ``torch.autocast``; the products around them stay in half.
"""
import contextlib
from typing import ContextManager, Tuple

import torch


def fp16_in_play(x: torch.Tensor) -> bool:
    """``x`` is float16, or autocast makes products on its device float16.

    bfloat16 has float32's range: its logits need no float32 region.
    """
    device = x.device.type
    return x.dtype == torch.float16 or (
        torch.is_autocast_enabled(device)
        and torch.get_autocast_dtype(device) == torch.float16)


def float32_region(x: torch.Tensor) -> torch.autocast:
    """A context in which autocast leaves ``x``'s device alone: operations
    on float32 tensors stay float32."""
    return torch.autocast(x.device.type, enabled=False)


def float32_under_autocast(
        x: torch.Tensor) -> Tuple[ContextManager, torch.Tensor]:
    """``(context, x)`` for a region with parameters: under autocast,
    autocast off and ``x`` in float32 (the parameters are float32 there).
    A model run in the dtype of its parameters without autocast (e.g.
    ``model.to(torch.bfloat16)``) keeps that dtype."""
    if torch.is_autocast_enabled(x.device.type):
        return float32_region(x), x.float()
    return contextlib.nullcontext(), x
