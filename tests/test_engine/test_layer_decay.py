# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Layer-wise lr decay from the default scope of each host."""
import pytest
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import sparse_backbones  # noqa: F401
from sparse_backbones.backbones import LeMeViT

TINY = dict(embed_dims=[32, 64, 96, 128], depths=[1, 1, 1, 1], cross_depth=1)


class Detector(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = LeMeViT(arch=TINY)
        self.neck = nn.Linear(4, 4)


@pytest.mark.parametrize('host', ['mmpretrain', 'mmdet', 'mmseg'])
@pytest.mark.parametrize('type_name', [
    'LayerDecayOptimWrapperConstructor',
    'sparse_backbones.LayerDecayOptimWrapperConstructor'
])
def test_layer_decay_in_every_host(host, type_name):
    pytest.importorskip(host)
    model = Detector()
    cfg = dict(
        constructor=type_name,
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.5, flat_decay_mult=0.))
    with DefaultScope.overwrite_default_scope(host):
        DefaultScope.get_instance(f'test-{host}', scope_name=host)
        optim = build_optim_wrapper(model, cfg)
    lrs = {}
    decays = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            lrs[names[id(p)]] = group['lr']
            decays[names[id(p)]] = group['weight_decay']
    num_layers = len(model.backbone.block_prefixes()) + 2
    assert lrs['backbone.patch_embed.0.weight'] == pytest.approx(
        1e-3 * 0.5**(num_layers - 1))
    assert lrs['backbone.stages.0.cross_blocks.0.mlp.fc1.weight'] == \
        pytest.approx(1e-3 * 0.5**(num_layers - 2))
    assert lrs['neck.weight'] == pytest.approx(1e-3)
    # paramwise options of mmengine's constructor still apply
    assert decays['backbone.stages.0.blocks.0.norm1.weight'] == 0
    assert decays['backbone.stages.0.blocks.0.mlp.fc1.weight'] == 0.05
    assert len(lrs) == len(list(model.parameters()))


def test_layer_decay_needs_rate_and_depth():
    cfg = dict(
        constructor='LayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3))
    with pytest.raises(KeyError, match='layer_decay_rate'):
        build_optim_wrapper(Detector(), cfg)
    cfg['paramwise_cfg'] = dict(layer_decay_rate=0.9)
    with pytest.raises(TypeError, match='get_layer_depth'):
        build_optim_wrapper(nn.Linear(2, 2), cfg)
