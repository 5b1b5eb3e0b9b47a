# Copyright (c) sparse_backbones contributors. All rights reserved.
"""LTM's IB training term: k-means, the loss, the head and the hook."""
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.engine import LTMIBHook
from sparse_backbones.losses import LTMIBLoss
from sparse_backbones.losses.ib import spherical_kmeans

from tests import REPO_ROOT

pytestmark = pytest.mark.timeout(300)


def clustered(num_clusters=3, per_cluster=40, dims=8, seed=0):
    """Points around ``num_clusters`` orthogonal directions."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(dims)[:num_clusters] * 5
    labels = torch.arange(num_clusters).repeat_interleave(per_cluster)
    points = centres[labels] + 0.3 * torch.randn(
        len(labels), dims, generator=generator)
    return points, labels


def test_kmeans_finds_separated_clusters():
    points, labels = clustered()
    centroids = spherical_kmeans(points, 3)
    assert torch.allclose(centroids.norm(dim=1), torch.ones(3))
    assignment = (F.normalize(points, dim=1) @ centroids.T).argmax(1)
    # One centroid per cluster: the assignment is a relabelling.
    for cluster in range(3):
        assert assignment[labels == cluster].unique().numel() == 1
    assert assignment.unique().numel() == 3
    # Fewer samples than clusters still works (centroids repeat).
    assert spherical_kmeans(points[:2], 5).shape == (5, 8)
    with pytest.raises(ValueError, match='non-empty'):
        spherical_kmeans(torch.zeros(0, 8), 3)


def fitted_loss(**kwargs):
    points, labels = clustered()
    loss = LTMIBLoss(num_classes=3, feature_dims=8, num_clusters=3, **kwargs)
    loss.start_collecting()
    loss.collect(points, labels)
    assert loss.refit() == len(points)
    return loss, points, labels


def test_refit_estimates_the_class_table():
    loss, points, labels = fitted_loss()
    assert not loss.collecting
    table = loss.class_table  # (K, classes): p(cluster | class)
    torch.testing.assert_close(table.sum(0), torch.ones(3))
    # Each class sits mostly in its own cluster.
    assert (table.max(0).values > 0.5).all()
    assert table.argmax(0).unique().numel() == 3
    phi = loss.assignments(points)
    torch.testing.assert_close(phi.sum(1), torch.ones(len(points)))


def test_loss_is_the_weighted_cross_entropy_to_the_class_table():
    loss, points, labels = fitted_loss(loss_weight=0.1)
    features = points.clone().requires_grad_()
    value = loss(features, labels)
    phi = loss.assignments(points)
    expected = -(phi * loss.class_table[:, labels].T.log()).sum(1).mean()
    torch.testing.assert_close(value, 0.1 * expected)
    value.backward()
    assert features.grad.abs().sum() > 0
    # Features with the wrong labels cost more than with the right ones.
    wrong = (labels + 1) % 3
    assert loss(points, wrong) > value


def test_bank_is_bounded_and_only_filled_while_collecting():
    loss = LTMIBLoss(num_classes=3, feature_dims=8, max_bank_size=50)
    points, labels = clustered()
    loss.collect(points, labels)  # not collecting: ignored
    with pytest.raises(RuntimeError, match='no features'):
        loss.refit()
    loss.start_collecting()
    loss.collect(points, labels)
    loss.collect(points, labels)
    assert loss.refit() == 50


def test_default_number_of_clusters():
    assert LTMIBLoss(30, 8).num_clusters == 120
    assert LTMIBLoss(1000, 8).num_clusters == 1000
    with pytest.raises(ValueError, match='loss_weight'):
        LTMIBLoss(3, 8, loss_weight=-1)


def test_state_is_saved_with_the_model():
    loss, _, _ = fitted_loss()
    loss.active.fill_(True)
    restored = LTMIBLoss(num_classes=3, feature_dims=8, num_clusters=3)
    restored.load_state_dict(loss.state_dict())
    assert bool(restored.active)
    torch.testing.assert_close(restored.centroids, loss.centroids)


# --------------------------------------------------------------- the head
def build_head(ib_loss='default'):
    pytest.importorskip('mmpretrain')
    from sparse_backbones.registry import MODELS
    cfg = dict(type='LTMIBClsHead', num_classes=3, in_channels=8)
    if ib_loss != 'default':
        cfg['ib_loss'] = ib_loss
    return MODELS.build(cfg)


def samples(labels):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(int(label)) for label in labels]


def test_head_adds_the_term_once_active():
    head = build_head()
    points, labels = clustered(per_cluster=4)
    feats = (points, )
    assert set(head.loss(feats, samples(labels))) == {'loss'}
    head.ib_loss.start_collecting()
    head.loss(feats, samples(labels))
    head.ib_loss.refit()
    head.ib_loss.active.fill_(True)
    losses = head.loss(feats, samples(labels))
    assert set(losses) == {'loss', 'loss_ib'}
    assert torch.isfinite(losses['loss_ib']) and losses['loss_ib'] > 0
    assert head.ib_loss.num_clusters == 12  # 4 x 3 classes


def test_head_without_ib_is_a_linear_head():
    head = build_head(ib_loss=None)
    points, labels = clustered(per_cluster=2)
    assert head.ib_loss is None
    assert set(head.loss((points, ), samples(labels))) == {'loss'}


def test_head_refuses_soft_labels():
    head = build_head()
    from mmpretrain.structures import DataSample
    soft = [DataSample().set_gt_score(torch.tensor([0.5, 0.5, 0.]))] * 2
    with pytest.raises(ValueError, match='ib_loss=None'):
        head.loss((torch.randn(2, 8), ), soft)


# ---------------------------------------------------------------- the hook
def fake_runner(head, max_epochs=10):
    model = SimpleNamespace(head=head)
    logger = SimpleNamespace(info=lambda message: None)
    return SimpleNamespace(
        model=model, max_epochs=max_epochs, epoch=0, logger=logger)


def test_hook_schedule_collects_refits_and_switches_on():
    head = build_head()
    runner = fake_runner(head, max_epochs=10)
    hook = LTMIBHook(start_ratio=0.3)
    assert hook.start_epoch(10) == 3
    points, labels = clustered(per_cluster=4)
    active = []
    for epoch in range(6):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        losses = head.loss((points, ), samples(labels))
        active.append('loss_ib' in losses)
        hook.after_train_epoch(runner)
    # Collect in epoch 2, use from epoch 3 (30 % of 10) on.
    assert active == [False, False, False, True, True, True]


def test_hook_without_ib_loss_does_nothing_and_checks_the_loop():
    runner = fake_runner(build_head(ib_loss=None))
    hook = LTMIBHook()
    hook.before_train_epoch(runner)
    hook.after_train_epoch(runner)
    runner = fake_runner(build_head(), max_epochs=None)
    with pytest.raises(ValueError, match='epoch-based'):
        hook.before_train_epoch(runner)
    with pytest.raises(TypeError, match='ib_loss'):
        hook.before_train_epoch(fake_runner(torch.nn.Linear(2, 2)))
    with pytest.raises(ValueError, match='start_ratio'):
        LTMIBHook(start_ratio=1.0)


def test_swin_config_wires_the_term_and_one_option_removes_it():
    pytest.importorskip('mmpretrain')
    from mmengine.config import Config
    path = osp.join(REPO_ROOT, 'configs', 'cls', 'ltm-swin-tiny_8xb64_aid.py')
    cfg = Config.fromfile(path)
    # The recipe's weight, 0.1, is the loss's default (the config does not
    # restate it): check the built loss.
    from sparse_backbones.registry import MODELS
    head = cfg.model.head
    loss = MODELS.build(
        dict(head.ib_loss, num_classes=head.num_classes,
             feature_dims=head.in_channels))
    assert loss.loss_weight == 0.1
    hooks = [h for h in cfg.custom_hooks if 'LTMIBHook' in h.type]
    assert len(hooks) == 1 and math.isclose(hooks[0].start_ratio, 0.3)
    cfg.merge_from_dict({'model.head.ib_loss': None})
    assert cfg.model.head.ib_loss is None


@pytest.mark.slow
def test_runner_switches_the_term_on(tmp_path):
    """A 3-epoch run of the AID config (tiny arch, demo data): the term is
    on in epoch 2 (after 30 %) and logged as loss_ib."""
    pytest.importorskip('mmpretrain')
    from mmengine.config import Config
    from mmengine.runner import Runner

    from sparse_backbones.demo import prepare_demo
    from sparse_backbones.models import sync_in_channels
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'cls', 'ltm-swin-tiny_8xb64_aid.py'))
    cfg = prepare_demo(cfg, data_root=str(tmp_path / 'data'))
    cfg.model.backbone.arch = dict(
        embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 3
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True)]
    sync_in_channels(cfg)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert bool(runner.model.head.ib_loss.active)
    assert runner.message_hub.get_scalar('train/loss_ib').current() > 0
