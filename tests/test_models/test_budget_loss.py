# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The budget loss wired into the three hosts' models, and its logging."""
import importlib
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope

import sparse_backbones  # noqa: F401
from sparse_backbones.engine.dge_hooks import FLOPsRatioHook
from sparse_backbones.losses import BudgetLoss
from ..test_configs.test_configs import _loss_batch

from tests import REPO_ROOT

pytestmark = pytest.mark.timeout(300)

SMALL_BACKBONES = {
    'DGEDeiT':
    dict(embed_dims=32, depth=2, num_heads=2),
    'DGEPVT':
    dict(
        embed_dims=[16, 32, 48, 64],
        depths=[1, 1, 1, 1],
        num_heads=[1, 2, 2, 4]),
}
CONFIGS = {
    'cls/dge-deit-tiny_8xb64_aid-256px.py': 'DynamicImageClassifier',
    'cls/dge-pvt-tiny_8xb64_aid-256px.py': 'DynamicImageClassifier',
    'det/mask-rcnn_dge-pvt-tiny_fpn_1x_dota.py': 'DynamicMaskRCNN',
    'seg/upernet_dge-pvt-tiny_4xb4-80k_potsdam-512x512.py':
    'DynamicEncoderDecoder',
}


def small_model(path: str):
    """The config's model with a few-block backbone of the same type."""
    from sparse_backbones.models import sync_in_channels
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', path))
    pytest.importorskip(cfg.default_scope)
    backbone_type = cfg.model.backbone.type.split('.')[-1]
    cfg.model.backbone.arch = SMALL_BACKBONES[backbone_type]
    if cfg.model.get('data_preprocessor', {}).get('size'):
        cfg.model.data_preprocessor.size = (64, 64)  # not the 512 crops
    sync_in_channels(cfg)
    host = importlib.import_module(f'{cfg.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = host.MODELS.build(cfg.model)
    return cfg, model


@pytest.mark.parametrize('path', sorted(CONFIGS))
def test_budget_loss_is_added_and_trains_the_routers(path):
    from mmengine.model import revert_sync_batchnorm
    cfg, model = small_model(path)
    assert type(model).__name__ == CONFIGS[path]
    model = revert_sync_batchnorm(model).train()
    data = model.data_preprocessor(_loss_batch(cfg), training=True)
    losses = model(**data, mode='loss')
    stats = model.backbone.last_stats
    torch.testing.assert_close(losses['loss_budget'],
                               BudgetLoss(budget=0.5)(stats))
    torch.testing.assert_close(losses['flops_ratio'],
                               stats.flops_ratio.detach())
    total, log_vars = model.parse_losses(losses)
    assert 'flops_ratio' in log_vars and 'loss_budget' in log_vars
    without, _ = model.parse_losses({
        k: v
        for k, v in losses.items() if k != 'loss_budget'
    })
    # The budget is in the total, the logged ratio is not.
    torch.testing.assert_close(total, without + losses['loss_budget'])
    total.backward()
    for block in model.backbone.dge_blocks():
        assert block.router.weight.grad.abs().sum() > 0


def test_aux_loss_names_must_say_loss():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'cls',
                 'dge-deit-tiny_8xb64_aid-256px.py'))
    cfg.model.aux_losses = dict(budget=dict(type='BudgetLoss'))
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(ValueError, match='must contain "loss"'):
            MODELS.build(cfg.model)


def test_aux_losses_need_a_dynamic_backbone():
    from mmpretrain.registry import MODELS
    model = dict(
        type='sparse_backbones.DynamicImageClassifier',
        backbone=dict(
            type='sparse_backbones.LeMeViT',
            arch='tiny',
            out_type='avg_featmap'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=320),
        aux_losses=dict(loss_budget=dict(type='BudgetLoss')))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        with pytest.raises(TypeError, match='last_stats'):
            MODELS.build(model)


def test_hook_logs_the_mean_ratio_of_the_epoch():
    _, model = small_model('cls/dge-deit-tiny_8xb64_aid-256px.py')
    model.eval()
    hub = MessageHub.get_instance('test_dge_hook')
    runner = SimpleNamespace(model=model, message_hub=hub)
    hook = FLOPsRatioHook()
    hook.before_val_epoch(runner)
    seen = []
    for batch in (2, 3):
        with torch.no_grad():
            model.extract_feat(torch.rand(batch, 3, 64, 64))
        seen.append(model.backbone.last_stats.sample_flops_ratio)
        hook.after_val_iter(runner, 0)
    hook.after_val_epoch(runner)
    expected = float(torch.cat(seen).mean())
    assert hub.get_scalar('val/flops_ratio').current() == pytest.approx(
        expected)


def test_hook_rejects_a_static_backbone():
    from sparse_backbones.backbones import LeMeViT
    runner = SimpleNamespace(
        model=SimpleNamespace(backbone=LeMeViT('tiny')),
        message_hub=MessageHub.get_instance('test_dge_hook_static'))
    with pytest.raises(TypeError, match='last_stats'):
        FLOPsRatioHook().before_val_epoch(runner)
