# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Official LIT checkpoints -> :class:`~sparse_backbones.backbones.LIT`.

Covers both official code bases (key lists: ``specs/lit.md`` section 5.6):

- LIT-Ti (``lit_ti.pth``, PVT layout): ``patch_embed1``,
  ``patch_embed{2,3,4}`` (DTMs), ``pos_embed{1..4}``, ``cls_token``,
  ``block{1..4}.j``;
- LIT-S/M/B (``lit_{s,m,b}.pth``, Swin layout): ``patch_embed``,
  ``layers.i.blocks.j``, ``layers.i.downsample`` (DTM at the end of stage
  i, i.e. the start of our stage i + 1), ``relative_position_index``
  buffers (dropped: ours are computed for the actual grid);
- the v2.0 mmdet/mmseg checkpoints of either (after removing the
  ``backbone.`` prefix): their output norms ``norm{i}`` keep their names.

Relative-position tables (bicubic) and absolute position embeddings
(bilinear) are resized to the grids of ``pretrain_img_size``, so ImageNet
(27^2 / 13^2 rows at 224), detection (99^2 / 49^2 at 800) and segmentation
(63^2 / 31^2 at 512) checkpoints all load into one model.
"""
import math
import re
from collections import OrderedDict
from typing import Dict

import torch

from ..layers import resize_pos_embed

# (pattern, replacement) applied in order to each upstream key.
_RENAMES = (
    # LIT-Ti (PVT layout)
    (r'^patch_embed1\.', 'patch_embed.'),
    (r'^patch_embed([2-4])\.norm_layer\.',
     lambda m: f'stages.{int(m[1]) - 1}.downsample.norm.'),
    (r'^patch_embed([2-4])\.',
     lambda m: f'stages.{int(m[1]) - 1}.downsample.'),
    (r'^pos_embed([1-4])$', lambda m: f'stages.{int(m[1]) - 1}.pos_embed'),
    (r'^cls_token$', 'stages.3.cls_token'),
    (r'^block([1-4])\.(\d+)\.',
     lambda m: f'stages.{int(m[1]) - 1}.blocks.{m[2]}.'),
    # LIT-S/M/B (Swin layout)
    (r'^layers\.(\d)\.blocks\.', r'stages.\1.blocks.'),
    (r'^layers\.(\d)\.downsample\.norm_layer\.',
     lambda m: f'stages.{int(m[1]) + 1}.downsample.norm.'),
    (r'^layers\.(\d)\.downsample\.',
     lambda m: f'stages.{int(m[1]) + 1}.downsample.'),
    (r'^head\.', 'head.fc.'),
)
_DROPPED = re.compile(r'\.relative_position_index$')
_STAGE = re.compile(r'^stages\.(\d)\.')
_TABLE = re.compile(r'^stages\.(\d)\.blocks\.\d+\.attn\.'
                    r'relative_position_bias_table$')
_POS_EMBED = re.compile(r'^stages\.(\d)\.pos_embed$')
STAGE_STRIDES = (4, 8, 16, 32)


def is_converted(state_dict: Dict[str, torch.Tensor]) -> bool:
    return any(k.startswith('stages.') for k in state_dict)


def _rename(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    converted = OrderedDict()
    for key, value in state_dict.items():
        if _DROPPED.search(key):
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        converted[key] = value
    # LIT-Ti's stage-4 embedding carries the cls token's row first.
    last = converted.get('stages.3.pos_embed')
    if last is not None and last.ndim == 3 and not _is_square(
            last.shape[1]) and _is_square(last.shape[1] - 1):
        converted['stages.3.cls_pos_embed'] = last[:, :1]
        converted['stages.3.pos_embed'] = last[:, 1:]
    return converted


def _is_square(n: int) -> bool:
    return n > 0 and math.isqrt(n)**2 == n


def _resize_grid(value: torch.Tensor, side: int, mode: str) -> torch.Tensor:
    """Resize a (1, S*S, C) grid to ``side`` x ``side`` in fp32."""
    old = math.isqrt(value.shape[1])
    resized = resize_pos_embed(
        value.float(), (old, old), (side, side), mode=mode, num_extra_tokens=0)
    return resized.to(value.dtype)


def _resize_table(table: torch.Tensor, side: int) -> torch.Tensor:
    # A ((2R-1)^2, heads) table is a grid of ``heads`` channels.
    return _resize_grid(table[None], side, 'bicubic')[0]


def _resize_pos_embed(pos_embed: torch.Tensor, side: int) -> torch.Tensor:
    return _resize_grid(pos_embed, side, 'bilinear')


def resize_position_tensors(
        state_dict: Dict[str, torch.Tensor],
        pretrain_img_size: int = 224) -> Dict[str, torch.Tensor]:
    """Resize bias tables and position embeddings to the token grids of a
    ``pretrain_img_size`` square image. Tensors that are not square grids
    (e.g. of another variant) are left for the strict load to report."""
    resized = OrderedDict(state_dict)
    for key, value in state_dict.items():
        table, pos = _TABLE.match(key), _POS_EMBED.match(key)
        if not (table or pos):
            continue
        stride = STAGE_STRIDES[int(_STAGE.match(key)[1])]
        grid = math.ceil(pretrain_img_size / stride)
        if table and value.ndim == 2 and _is_square(value.shape[0]):
            if value.shape[0] != (2 * grid - 1)**2:
                resized[key] = _resize_table(value, 2 * grid - 1)
        elif pos and value.ndim == 3 and value.shape[0] == 1 and _is_square(
                value.shape[1]) and value.shape[1] != grid**2:
            resized[key] = _resize_pos_embed(value, grid)
    return resized


def convert_lit(state_dict: Dict[str, torch.Tensor],
                pretrain_img_size: int = 224) -> Dict[str, torch.Tensor]:
    """Rename an official LIT state dict to this package's names.

    Idempotent: an already converted dict keeps its names (position tensors
    are still brought to ``pretrain_img_size``). The classifier ``head.*``
    becomes ``head.fc.*`` (mmpretrain's ``LinearClsHead``). Wrappers and
    prefixes must be removed first
    (:func:`~sparse_backbones.utils.checkpoint.unwrap_state_dict`).

    Args:
        state_dict (dict): Official (or converted) tensors.
        pretrain_img_size (int): The ``pretrain_img_size`` of the target
            model. Defaults to 224.
    """
    if not is_converted(state_dict):
        state_dict = _rename(state_dict)
    return resize_position_tensors(state_dict, pretrain_img_size)
