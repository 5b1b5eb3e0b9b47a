# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Linear layers with a fused oneDNN inference path on CPU."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def find_onednn_op(name: str):
    """``torch.ops.mkldnn.<name>`` (oneDNN's fused inference kernels, the
    ones inductor uses), or None if this torch lacks it."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return getattr(torch.ops.mkldnn, name)
    except (AttributeError, RuntimeError):
        return None


# linear + bias (+ activation)
_FUSED_KERNEL = find_onednn_op('_linear_pointwise')


def linear(x: torch.Tensor,
           layer: nn.Linear,
           activation: str = 'none',
           fused: bool = True) -> torch.Tensor:
    """``layer(x)``, then exact (erf) GELU if ``activation='gelu'``.

    On CPU, in fp32 and when no gradient is needed, the fast path runs one
    oneDNN kernel (the one inductor uses) with bias and GELU fused into the
    matrix product. PyTorch's eager ``addmm`` first copies the broadcast
    bias into the output and GELU makes another pass over it; on LeMeViT
    these two passes cost more than the products themselves. The kernel has
    no backward, so training runs the reference path, which is also the
    test oracle (``fused=False``).

    Args:
        x (Tensor): (..., in_features).
        layer (nn.Linear): Weights and bias.
        activation (str): ``'none'`` or ``'gelu'``. Defaults to ``'none'``.
        fused (bool): Allow the fused path. Defaults to True.
    """
    return linear_product(x, layer.weight, layer.bias, activation, fused)


def linear_product(x: torch.Tensor,
                   weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None,
                   activation: str = 'none',
                   fused: bool = True) -> torch.Tensor:
    """:func:`linear` with a bare (out, in) weight and optional bias."""
    if fused and _FUSED_KERNEL is not None and x.device.type == 'cpu' \
            and x.dtype == torch.float32 and not (
                torch.is_grad_enabled() and
                (x.requires_grad or weight.requires_grad or
                 (bias is not None and bias.requires_grad))):
        return _FUSED_KERNEL(x, weight, bias, activation, [],
                             'none' if activation == 'gelu' else '')
    out = F.linear(x, weight, bias)
    return F.gelu(out) if activation == 'gelu' else out
