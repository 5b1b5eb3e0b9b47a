# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Parameter and multiply-add counting."""
from typing import Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward pass on a zero input of ``input_shape``.

    Counted by torch's dispatcher-level counter, which sees every matrix
    product including those inside ``scaled_dot_product_attention`` (the
    fvcore-style counters of mmengine/calflops miss these). Norms and
    activations are not counted, as in the papers' figures.
    """
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(*input_shape))
    model.train(was_training)
    return counter.get_total_flops() // 2
