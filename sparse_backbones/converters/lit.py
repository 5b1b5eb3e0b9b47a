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
from typing import Dict, Optional

import torch

from ..layers import resize_pos_embed
from .layout import ForeignCheckpointError

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
# The Deformable Token Merging modules, which only LIT has, as lit_ti.pth,
# lit_{s,m,b}.pth and ours name them; searched, not matched, so that a file
# with a prefix left is taken and the strict load names the prefix.
_DTM = re.compile(r'(^|\.)(patch_embed[2-4]|layers\.[0-2]\.downsample|'
                  r'stages\.[1-3]\.downsample)\.dconv\.')
# Any LIT key, for a LIT without DTMs (built up to stage 0 only).
_LIT_KEY = re.compile(r'(^|\.)(patch_embed1?\.|block[1-4]\.\d|'
                      r'pos_embed[1-4]?$|cls_token$|'
                      r'(layers|stages)\.\d\.blocks\.)')
# Other models' checkpoints, by a key only they have: what to call them.
_OTHER_MODELS = (
    (r'^(downsample_layers|meta_token_downsample)\.',
     'an official LeMeViT checkpoint (its converter is '
     'tools/model_converters/lemevit_to_sparse_backbones.py)'),
    (r'\.cross_blocks\.|^meta_tokens$',
     'a LeMeViT checkpoint of sparse_backbones'),
    (r'\.router\.', 'a DGE checkpoint (its converter is '
     'tools/model_converters/dge_to_sparse_backbones.py)'),
    (r'^block[1-4]\.|^patch_embed[2-4]\.proj\.', 'a PVT v1 checkpoint'),
    (r'^layers\.\d\.downsample\.reduction\.', 'a Swin Transformer checkpoint'),
    (r'^blocks\.\d+\.', 'a DeiT / ViT checkpoint'),
)
_LIT_KEYS = (
    'expected the keys of an official LIT checkpoint: lit_ti.pth '
    '(patch_embed1.*, block1.0.*, patch_embed2.dconv.*), lit_s/m/b.pth '
    '(patch_embed.*, layers.0.blocks.0.*, layers.0.downsample.dconv.*) or '
    'their v2.0 mmdet/mmseg checkpoints, or those of a LIT of '
    'sparse_backbones (stages.1.downsample.dconv.*)')
_DROPPED = re.compile(r'\.relative_position_index$')
_STAGE = re.compile(r'^stages\.(\d)\.')
_TABLE = re.compile(r'^stages\.(\d)\.blocks\.\d+\.attn\.'
                    r'relative_position_bias_table$')
_POS_EMBED = re.compile(r'^stages\.(\d)\.pos_embed$')
STAGE_STRIDES = (4, 8, 16, 32)


def is_converted(state_dict: Dict[str, torch.Tensor]) -> bool:
    return any(k.startswith('stages.') for k in state_dict)


def check_lit_layout(state_dict: Dict[str, torch.Tensor]) -> None:
    """Refuse the weights of another model (LeMeViT's also have
    ``stages.*`` keys): LIT's have Deformable Token Merging modules, or
    (a LIT of one stage) LIT's names and none only another model has.

    Raises:
        ForeignCheckpointError: Saying what the weights look like and
            which keys were expected.
    """
    if any(_DTM.search(key) for key in state_dict):
        return
    other = next((name for pattern, name in _OTHER_MODELS
                  if any(re.search(pattern, key) for key in state_dict)),
                 None)
    if other:
        what = (f'it is {other}, with no Deformable Token Merging (dconv) '
                'keys')
    elif any(_LIT_KEY.search(key) for key in state_dict):
        return  # the strict load names what is missing
    elif not state_dict:
        what = 'it holds no tensors'
    else:
        what = (f"its keys are none of LIT's (first keys: "
                f'{list(state_dict)[:5]})')
    raise ForeignCheckpointError(f'holds no LIT weights: {what}; {_LIT_KEYS}.')


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
        pretrain_img_size: int = 224,
        table_img_size: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Resize position embeddings to the token grids of a
    ``pretrain_img_size`` square image, and bias tables to those of
    ``table_img_size`` (default: the same). Tensors that are not square
    grids (e.g. of another variant) are left for the strict load to
    report."""
    resized = OrderedDict(state_dict)
    for key, value in state_dict.items():
        table, pos = _TABLE.match(key), _POS_EMBED.match(key)
        if not (table or pos):
            continue
        stride = STAGE_STRIDES[int(_STAGE.match(key)[1])]
        size = table_img_size if table and table_img_size else \
            pretrain_img_size
        grid = math.ceil(size / stride)
        if table and value.ndim == 2 and _is_square(value.shape[0]):
            if value.shape[0] != (2 * grid - 1)**2:
                resized[key] = _resize_table(value, 2 * grid - 1)
        elif pos and value.ndim == 3 and value.shape[0] == 1 and _is_square(
                value.shape[1]) and value.shape[1] != grid**2:
            resized[key] = _resize_pos_embed(value, grid)
    return resized


def convert_lit(state_dict: Dict[str, torch.Tensor],
                pretrain_img_size: int = 224,
                table_img_size: Optional[int] = None
                ) -> Dict[str, torch.Tensor]:
    """Rename an official LIT state dict to this package's names.

    Idempotent: an already converted dict keeps its names (position tensors
    are still brought to ``pretrain_img_size``). The classifier ``head.*``
    becomes ``head.fc.*`` (mmpretrain's ``LinearClsHead``). Wrappers and
    prefixes must be removed first
    (:func:`~sparse_backbones.utils.checkpoint.unwrap_state_dict`). The
    weights of another model raise :class:`ForeignCheckpointError` (a
    ``KeyError``).

    Args:
        state_dict (dict): Official (or converted) tensors.
        pretrain_img_size (int): The ``pretrain_img_size`` of the target
            model. Defaults to 224.
        table_img_size (int, optional): Its ``bias_table_img_size``.
            Defaults to ``pretrain_img_size``.
    """
    check_lit_layout(state_dict)
    if not is_converted(state_dict):
        state_dict = _rename(state_dict)
    return resize_position_tensors(state_dict, pretrain_img_size,
                                   table_img_size)
