# Copyright (c) sparse_backbones contributors. All rights reserved.
import pytest
from mmengine.config import Config

import sparse_backbones  # noqa: F401
from sparse_backbones.models import sync_in_channels


def test_sync_in_channels_for_each_task():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(type='sparse_backbones.LeMeViT', arch='small'),
                neck=dict(type='FPN', in_channels=[64, 128, 192, 320]),
                decode_head=dict(in_index=[0, 1, 2, 3], in_channels=[1]),
                auxiliary_head=dict(in_index=2, in_channels=192))))
    sync_in_channels(cfg)
    assert cfg.model.neck.in_channels == [96, 192, 320, 384]
    assert cfg.model.decode_head.in_channels == [96, 192, 320, 384]
    assert cfg.model.auxiliary_head.in_channels == 320

    cls = Config(
        dict(
            model=dict(
                backbone=dict(
                    type='LeMeViT', arch='base', out_type='avg_featmap'),
                neck=None,
                head=dict(type='LinearClsHead', in_channels=320))))
    sync_in_channels(cls)
    assert cls.model.head.in_channels == 512


def test_sync_leaves_other_backbones_alone():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(type='mmdet.ResNet', depth=50),
                neck=dict(type='FPN', in_channels=[1, 2, 3, 4]))))
    sync_in_channels(cfg)
    assert cfg.model.neck.in_channels == [1, 2, 3, 4]


def test_sync_reports_bad_arch():
    cfg = Config(
        dict(model=dict(backbone=dict(type='LeMeViT', arch='huge'))))
    with pytest.raises(KeyError, match="'huge' is not in default archs"):
        sync_in_channels(cfg)
