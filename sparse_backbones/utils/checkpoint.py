# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Unwrapping of checkpoint files into plain backbone state dicts."""
from collections import OrderedDict
from typing import Dict, Mapping, Sequence

import torch

# Where training frameworks put the weights: timm (`state_dict`,
# `state_dict_ema`), DeiT/Swin/LIT-style (`model`), mmengine (`state_dict`).
WRAPPER_KEYS = ('state_dict', 'model', 'state_dict_ema', 'model_ema')
PREFIXES = ('module.', 'backbone.')


def unwrap_state_dict(checkpoint: Mapping,
                      prefixes: Sequence[str] = PREFIXES
                      ) -> Dict[str, torch.Tensor]:
    """Return the tensors of ``checkpoint`` with wrappers and prefixes gone.

    The first of :data:`WRAPPER_KEYS` present wins, so the non-EMA weights of
    a timm checkpoint are taken, as the upstream downstream loaders do. Each
    prefix in ``prefixes`` is stripped, in order, from every key that has it;
    keys of a ``backbone.``-prefixed detector checkpoint that lie outside the
    backbone (neck, heads) are dropped.
    """
    state_dict = checkpoint
    for key in WRAPPER_KEYS:
        if isinstance(checkpoint, Mapping) and key in checkpoint:
            state_dict = checkpoint[key]
            break
    if not isinstance(state_dict, Mapping):
        raise TypeError('Expected a state dict (a mapping of names to '
                        f'tensors), got {type(state_dict).__name__}')
    for prefix in prefixes:
        if any(k.startswith(prefix) for k in state_dict):
            state_dict = OrderedDict((k[len(prefix):], v)
                                     for k, v in state_dict.items()
                                     if k.startswith(prefix))
    return OrderedDict((k, v) for k, v in state_dict.items()
                       if isinstance(v, torch.Tensor))
