# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The weight initialisation shared by the four designs."""
import torch.nn as nn
from torch.nn.init import trunc_normal_


def init_vit_weights(module: nn.Module) -> None:
    """timm/DeiT init, for ``model.apply``: linear weights from a normal
    truncated at +-2 std with std 0.02 and zero biases, LayerNorms at the
    identity. Convolutions and BatchNorms keep PyTorch's default, as in
    every official code base of the four designs."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
