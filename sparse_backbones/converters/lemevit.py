# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Official LeMeViT checkpoints (timm layout) -> :class:`LeMeViT` names.

The official model has five code stages; ours folds code stages 0 (cross
attention) and 1 (stride-4 DCA) into ``stages.0``, so stage indices shift
by one after the first. Key list: ``specs/lemevit.md`` section 5.4.
"""
import re
from collections import OrderedDict
from typing import Dict

import torch

# (pattern, replacement) applied in order to each upstream key.
_RENAMES = (
    (r'^downsample_layers\.0\.', 'patch_embed.'),
    (r'^downsample_layers\.([2-4])\.',
     lambda m: f'stages.{int(m[1]) - 1}.downsample.'),
    (r'^meta_token_downsample\.0\.', 'stages.0.cross_meta_proj.'),
    (r'^meta_token_downsample\.([1-4])\.',
     lambda m: f'stages.{max(int(m[1]) - 1, 0)}.meta_proj.'),
    (r'^stages\.0\.(\d+)\.', r'stages.0.cross_blocks.\1.'),
    (r'^stages\.([1-4])\.(\d+)\.',
     lambda m: f'stages.{int(m[1]) - 1}.blocks.{m[2]}.'),
    (r'\.mlp\.0\.', '.mlp.fc1.'),
    (r'\.mlp\.3\.', '.mlp.fc2.'),
    # The classifier's BN of the last map is stage 3's output norm.
    (r'^norm\.', 'norm3.'),
    (r'^norm_c\.', 'meta_norm.'),
    (r'^head\.', 'head.fc.'),
)
# Upstream modules with no counterpart (created but unused upstream).
_DROPPED = re.compile(r'^(extra_norms|pre_logits)\.')


def is_converted(state_dict: Dict[str, torch.Tensor]) -> bool:
    return any(
        k.startswith('patch_embed.') or '.cross_blocks.' in k
        for k in state_dict)


def convert_lemevit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename an official LeMeViT state dict to this package's names.

    Idempotent: an already converted dict is returned unchanged. The final
    BatchNorm ``norm.*`` becomes ``norm3.*``, ``norm_c.*`` ``meta_norm.*``
    and the classifier ``head.*`` ``head.fc.*`` (mmpretrain's
    ``LinearClsHead``); unused upstream ``extra_norms``/``pre_logits`` keys
    are dropped. Wrappers and prefixes must be removed first
    (:func:`~sparse_backbones.utils.checkpoint.unwrap_state_dict`).
    """
    if is_converted(state_dict):
        return state_dict
    converted = OrderedDict()
    for key, value in state_dict.items():
        if _DROPPED.match(key):
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        converted[key] = value
    return converted
