# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Reference DGE checkpoints (vtpack) and vanilla DeiT / PVT v1 checkpoints
-> :class:`~sparse_backbones.backbones.DGEDeiT` /
:class:`~sparse_backbones.backbones.DGEPVT` names.

Key lists: ``specs/dge.md`` section 8. The final ``norm`` becomes the
output norm of the last stage (``norm{depth - 1}`` of DGE-DeiT, ``norm3`` of
DGE-PVT). DeiT's fused ``attn.qkv`` (timm and vtpack's vanilla DeiT) is
split into ``attn.q`` (rows [0, C)) and ``attn.kv`` (rows [C, 3C), k then
v); position embeddings are resized to the model's grid (PVT bilinear, DeiT
bicubic), e.g. the 224-input PVT v1 ones to 256. A vanilla checkpoint has no routers: they get the paper's init (finest
split with p = 0.95), so the converted model starts as the vanilla one.
"""
import math
import re
from collections import OrderedDict
from typing import Dict, Optional

import torch
from torch.nn.init import trunc_normal_

from ..layers import resize_pos_embed
from ..layers.dge import finest_split_bias
from .layout import ForeignCheckpointError

# (pattern, replacement) applied in order to each upstream key.
# DeiT's final norm is norm{depth - 1}: added by convert_dge.
_DEIT_RENAMES = (
    (r'^blocks\.(\d+)\.', r'stages.\1.blocks.0.'),
    (r'\.dge\.router\.gate\.', '.router.'),
    (r'^head\.', 'head.fc.'),
)
_PVT_RENAMES = (
    (r'^patch_embed1\.', 'patch_embed.'),
    (r'^pos_embed1$', 'pos_embed'),
    (r'^patch_embed([2-4])\.',
     lambda m: f'stages.{int(m[1]) - 1}.downsample.'),
    (r'^pos_embed([2-4])$', lambda m: f'stages.{int(m[1]) - 1}.pos_embed'),
    (r'^cls_token$', 'stages.3.cls_token'),
    (r'^norm\.', 'norm3.'),
    (r'^block([1-4])\.(\d+)\.',
     lambda m: f'stages.{int(m[1]) - 1}.blocks.{m[2]}.'),
    (r'\.dge\.router\.gate\.', '.router.'),
    (r'^head\.', 'head.fc.'),
)
_DEIT_BLOCK = re.compile(r'^blocks\.(\d+)\.')
# Constants of the reference module, not weights.
_DROPPED = re.compile(r'\.dge\.splits$')


def is_converted(state_dict: Dict[str, torch.Tensor]) -> bool:
    return any(k.startswith('stages.') for k in state_dict)


def _host(state_dict: Dict[str, torch.Tensor]) -> str:
    if any(re.match(r'block[1-4]\.', k) for k in state_dict):
        return 'pvt'
    if any(k.startswith('blocks.') for k in state_dict):
        return 'deit'
    raise ForeignCheckpointError(
        'is not a DeiT or PVT v1 checkpoint: no blocks.* or block1.* keys '
        f'(first keys: {list(state_dict)[:5]})')


def _resize_grid(pos_embed: torch.Tensor, num_extra: int, side: int,
                 mode: str) -> torch.Tensor:
    """(1, E + n*n, C) -> (1, E + side*side, C), square grids."""
    num_grid = pos_embed.shape[1] - num_extra
    src = math.isqrt(num_grid)
    if src * src != num_grid:
        raise ValueError(f'position embedding of {num_grid} grid '
                         'tokens is not a square grid')
    if src == side:
        return pos_embed
    # float: half-precision checkpoints cannot be interpolated on CPU.
    resized = resize_pos_embed(pos_embed.float(), (src, src), (side, side),
                               mode, num_extra)
    return resized.to(pos_embed.dtype)


def _add_missing_routers(state_dict: Dict[str, torch.Tensor]) -> None:
    for key in [k for k in state_dict if k.endswith('.attn.q.weight')]:
        prefix = key[:-len('attn.q.weight')]
        if prefix + 'router.weight' in state_dict:
            continue
        dims = state_dict[key].shape[1]
        weight = torch.empty(3, dims)
        trunc_normal_(weight, std=.01)
        state_dict[prefix + 'router.weight'] = weight
        state_dict[prefix + 'router.bias'] = finest_split_bias()


def convert_dge(state_dict: Dict[str, torch.Tensor],
                img_size: Optional[int] = 256) -> Dict[str, torch.Tensor]:
    """Rename a vtpack DGE-DeiT / DGE-PVT (or vanilla DeiT / PVT v1) state
    dict to this package's names.

    Idempotent: an already converted dict is returned unchanged. The
    classifier ``head.*`` becomes ``head.fc.*`` (mmpretrain's
    ``LinearClsHead``). Wrappers and prefixes must be removed first
    (:func:`~sparse_backbones.utils.checkpoint.unwrap_state_dict`).

    Args:
        state_dict (dict): Upstream tensors.
        img_size (int, optional): Input side the model's position
            embeddings are made for (its ``img_size``); the upstream ones
            are resized to it. None keeps them. Defaults to 256.
    """
    if is_converted(state_dict):
        return state_dict
    host = _host(state_dict)
    if host == 'pvt':
        renames = _PVT_RENAMES
    else:
        depth = 1 + max(
            int(m[1]) for m in map(_DEIT_BLOCK.match, state_dict) if m)
        renames = _DEIT_RENAMES + ((r'^norm\.', f'norm{depth - 1}.'), )
    converted = OrderedDict()
    for key, value in state_dict.items():
        if _DROPPED.search(key):
            continue
        qkv = re.match(r'^(blocks\.\d+\.attn\.)qkv\.(weight|bias)$', key)
        if qkv:
            # Rows are [q; k; v]: q -> attn.q, [k; v] -> attn.kv.
            dims = value.shape[0] // 3
            items = [(f'{qkv[1]}q.{qkv[2]}', value[:dims]),
                     (f'{qkv[1]}kv.{qkv[2]}', value[dims:])]
        else:
            items = [(key, value)]
        for name, tensor in items:
            for pattern, replacement in renames:
                name = re.sub(pattern, replacement, name)
            converted[name] = tensor
    if img_size is not None:
        if host == 'deit':
            patch = converted['patch_embed.proj.weight'].shape[-1]
            converted['pos_embed'] = _resize_grid(converted['pos_embed'], 1,
                                                  img_size // patch, 'bicubic')
        else:
            for stage in range(4):
                key = 'pos_embed' if stage == 0 else \
                    f'stages.{stage}.pos_embed'
                converted[key] = _resize_grid(converted[key], int(stage == 3),
                                              img_size // 4 // 2**stage,
                                              'bilinear')
    _add_missing_routers(converted)
    return converted
