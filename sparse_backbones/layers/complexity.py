# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Parameter and multiply-add counting."""
import math
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from .fused import ONEDNN_CONV, ONEDNN_LINEAR


def _sdpa_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _fused_linear_flops(input_shape, weight_shape, *args, **kwargs) -> int:
    return 2 * math.prod(input_shape[:-1]) * weight_shape[0] * weight_shape[1]


def _fused_conv_flops(input_shape, weight_shape, *args, out_shape,
                      **kwargs) -> int:
    # weight: (C_out, C_in / groups, kh, kw); every output element costs
    # one product per weight of its filter.
    return 2 * math.prod(out_shape) * math.prod(weight_shape[1:])


# torch's counter knows the CUDA attention kernels but not the CPU one that
# F.scaled_dot_product_attention dispatches to on CPU, nor the oneDNN linear
# and convolution kernels of sparse_backbones.layers.
_EXTRA_FORMULAS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops,
}
if ONEDNN_LINEAR is not None:
    _EXTRA_FORMULAS[ONEDNN_LINEAR] = _fused_linear_flops
if ONEDNN_CONV is not None:
    _EXTRA_FORMULAS[ONEDNN_CONV] = _fused_conv_flops


def register_flop_formula(op):
    """Teach :func:`count_macs` the FLOPs (2 x MACs) of ``op``.

    For operators torch's counter does not know, e.g. deformable
    convolution. The formula gets the shapes of the op's tensor arguments
    (positional, as torch's counter passes them) and returns FLOPs.

    Example::

        @register_flop_formula(torch.ops.torchvision.deform_conv2d)
        def _deform_conv_flops(input_shape, weight_shape, *args, **kw):
            ...
    """

    def register(formula):
        _EXTRA_FORMULAS[op] = formula
        return formula

    return register


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module,
               input_shape: Optional[Sequence[int]] = None,
               inputs: Optional[torch.Tensor] = None) -> int:
    """Multiply-adds of one forward pass, in eval mode.

    Counted by torch's dispatcher-level counter, which sees every matrix
    product including those inside ``scaled_dot_product_attention`` (the
    fvcore-style counters of mmengine/calflops miss these). It runs with
    autograd on (the counter's module tracker fails on parameters seen under
    ``no_grad``) but with the parameters frozen for the pass, so that no
    graph holds the activations: at 1024 px LIT-B's would exceed 20 GB.
    Deployed models (``switch_to_deploy()``) run the fused inference
    kernels, whose registered formulas count as much as the reference ops
    (tested). Norms and
    activations are not counted, as in the papers' figures.

    Args:
        model (nn.Module): The model; its training mode is restored.
        input_shape (Sequence[int], optional): Shape of a zero input.
        inputs (torch.Tensor, optional): The input itself, instead of
            ``input_shape``. Models whose cost depends on the data (DGE's
            router) then report the cost they realise on it.

    Returns:
        int: Multiply-adds of the whole batch.
    """
    if (input_shape is None) == (inputs is None):
        raise ValueError('count_macs needs exactly one of input_shape and '
                         'inputs')
    if inputs is None:
        inputs = torch.zeros(*input_shape)
    return sum(count_macs_by_op(model, inputs).values())


def count_macs_by_op(model: nn.Module,
                     inputs: torch.Tensor) -> Dict[str, int]:
    """:func:`count_macs` of ``inputs`` per ATen op name (``'bmm'``,
    ``'_linear_pointwise'``, ...)."""
    return count_macs_by_module(model, inputs)['']


def count_macs_by_module(model: nn.Module,
                         inputs: torch.Tensor) -> Dict[str, Dict[str, int]]:
    """:func:`count_macs` of ``inputs`` per module that ran (its name in
    ``model.named_modules()``, ``''`` for the whole model), then per ATen
    op name; a module's count includes its children's."""
    was_training = model.training
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.eval()  # not chained: mmpretrain's Swin returns None from train()
    model.requires_grad_(False)
    counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS)
    try:
        with counter:
            model(inputs)
    finally:
        model.train(was_training)
        for param in trainable:
            param.requires_grad_(True)
    # The counter names modules '<root class>.<path>' and the total 'Global'.
    root = type(model).__name__ + '.'
    counts = {}
    for name, ops in counter.get_flop_counts().items():
        if name == 'Global':
            name = ''
        elif name.startswith(root):
            name = name[len(root):]
        else:
            continue  # the root module itself: the same as 'Global'
        counts[name] = {op.__name__: flops // 2 for op, flops in ops.items()}
    counts.setdefault('', {})
    return counts


def count_macs_mmengine(model: nn.Module, inputs: torch.Tensor) -> int:
    """Multiply-adds by mmengine's fvcore-style tracing counter.

    A cross-check only: it sees the operators of a traced graph, so it
    misses ``scaled_dot_product_attention`` and other ops it has no handle
    for (it warns about them), and gives less than :func:`count_macs`.

    Args:
        model (nn.Module): The model, in eval mode.
        inputs (torch.Tensor): The input batch.

    Returns:
        int: Multiply-adds of the whole batch.
    """
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())
