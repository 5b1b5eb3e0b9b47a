# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Config helpers: keep a host model's neck and heads in step with the
backbone of this package (used by the train/test tools and visualisation).

Lives with the host-model glue, above ``backbones``: it builds the backbone
to read its ``out_channels``."""
from typing import Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from ..backbones import BaseSparseBackbone
from ..registry import MODELS


def backbone_out_channels(backbone_cfg: dict) -> Optional[Sequence[int]]:
    """``out_channels`` of a backbone config of this package, else None.

    The backbone is built on the meta device, so this costs no memory and
    honours every argument (arch name or dict, out_indices, out_type).
    """
    backbone_cfg = ConfigDict(backbone_cfg)
    backbone_type = backbone_cfg.get('type')
    if isinstance(backbone_type, str):
        backbone_type = MODELS.get(backbone_type)
    if not (isinstance(backbone_type, type)
            and issubclass(backbone_type, BaseSparseBackbone)):
        return None
    backbone_cfg.pop('init_cfg', None)
    with torch.device('meta'):
        return MODELS.build(backbone_cfg).out_channels


def _by_index(channels: Sequence[int], in_index):
    if isinstance(in_index, int):
        return channels[in_index]
    return [channels[i] for i in in_index]


def sync_in_channels(cfg: Config) -> None:
    """Set neck/head ``in_channels`` from the backbone of ``cfg.model``.

    The shipped configs are written for the tiny arch; after
    ``--cfg-options model.backbone.arch=small`` this keeps FPN, UperNet's
    heads and the classifier head consistent with the backbone, so an arch
    is one option away. Models without a backbone of this package are left
    untouched. Changes are logged.
    """
    model = cfg.get('model')
    if not model or 'backbone' not in model:
        return
    channels = backbone_out_channels(model.backbone)
    if channels is None:
        return
    channels = list(channels)
    updates = []

    def update(node: dict, name: str, value) -> None:
        if node.get('in_channels') != value:
            updates.append(f'{name}.in_channels: '
                           f'{node.get("in_channels")} -> {value}')
            node['in_channels'] = value

    neck = model.get('neck')
    if isinstance(neck, dict) and isinstance(neck.get('in_channels'), list):
        update(neck, 'neck', channels)
    if isinstance(model.get('head'), dict) and 'in_channels' in model.head \
            and (neck is None or neck.get('type', '').endswith(
                'GlobalAveragePooling')):
        update(model.head, 'head', channels[-1])
    for name in ('decode_head', 'auxiliary_head'):
        heads = model.get(name) or []
        heads = heads if isinstance(heads, list) else [heads]
        for i, head in enumerate(heads):
            if 'in_index' in head:
                update(head, name if len(heads) == 1 else f'{name}[{i}]',
                       _by_index(channels, head.in_index))
    for line in updates:
        print_log(f'sync_in_channels: {line}', logger='current')
