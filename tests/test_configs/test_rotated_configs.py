# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The Oriented R-CNN configs: the LeMeViT paper's DOTA recipe on top of
mmrotate's own Oriented R-CNN config, and a training step of each design.

mmrotate exists only on the default stack (the maintained fork); on
``STACK=openmmlab`` this module skips with that reason (README,
"Dependency stacks").
"""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

pytest.importorskip('mmrotate', reason='oriented detection needs mmrotate')

from tests import REPO_ROOT  # noqa: E402

ROTATED = osp.join(REPO_ROOT, 'configs', 'rotated')
# One config per design trains a step; LeMeViT small/base change only the
# arch, the FPN widths and (base) the lr and batch.
DESIGNS = ('lemevit-tiny', 'dge-pvt-tiny', 'lit-s', 'ltm-swin-tiny')
# specs/lemevit.md section 5.1: lr, images per GPU (2 GPUs).
LEMEVIT_RECIPE = {
    'tiny': (1e-3, 8, [64, 128, 192, 320]),
    'small': (1e-3, 8, [96, 192, 320, 384]),
    'base': (5e-5, 2, [96, 192, 384, 512]),
}
DOTA_CLASSES = 15


def config_path(name: str) -> str:
    return osp.join(ROTATED, f'oriented-rcnn-le90_{name}_fpn_1x_dota.py')


def build(cfg: Config):
    from mmrotate.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmrotate'):
        return MODELS.build(cfg.model)


def test_every_design_and_lemevit_size_has_a_config():
    names = {f'lemevit-{arch}' for arch in LEMEVIT_RECIPE} | set(DESIGNS)
    for name in names:
        assert osp.exists(config_path(name)), name


def test_configs_inherit_mmrotate_instead_of_restating_it():
    tiny = open(config_path('lemevit-tiny')).read()
    assert "_base_ = 'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_" \
        "1x_dota.py'" in tiny
    # The heads, coders and assigners come from mmrotate, unwritten here.
    for restated in ('OrientedRPNHead', 'RoIAlignRotated',
                     'DeltaXYWHTRBBoxCoder', 'MaxIoUAssigner'):
        assert restated not in tiny, restated


@pytest.mark.parametrize('arch', sorted(LEMEVIT_RECIPE))
def test_lemevit_recipe_of_the_paper(arch):
    lr, per_gpu, widths = LEMEVIT_RECIPE[arch]
    cfg = Config.fromfile(config_path(f'lemevit-{arch}'))
    assert cfg.default_scope == 'mmrotate'
    assert cfg.model.backbone.type == 'sparse_backbones.LeMeViT'
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.norm_eval is True
    assert cfg.model.neck.in_channels == widths
    assert cfg.model.roi_head.bbox_head.num_classes == DOTA_CLASSES
    assert cfg.model.rpn_head.bbox_coder.angle_version == 'le90'
    # ImageNet mean/std in 0-255, pad to 32
    assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
    assert cfg.model.data_preprocessor.std == [58.395, 57.12, 57.375]
    assert cfg.model.data_preprocessor.pad_size_divisor == 32

    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and 'momentum' not in optimizer
    # lr 1e-3 is AdamW's default: the config leaves it out where it is 1e-3
    assert math.isclose(optimizer.get('lr', 1e-3), lr)
    assert optimizer.weight_decay == 0.05
    # betas (0.9, 0.999): torch's AdamW default
    assert 'betas' not in optimizer
    assert cfg.optim_wrapper.clip_grad.max_norm == 35
    assert 'paramwise_cfg' not in cfg.optim_wrapper  # none in the paper
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr.base_batch_size == 2 * per_gpu

    assert cfg.train_cfg.max_epochs == 12
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.by_epoch, warmup.end) == ('LinearLR', False,
                                                          500)
    assert warmup.start_factor == 1e-3
    assert steps.type == 'MultiStepLR' and steps.milestones == [8, 11]

    pipeline = {t.type.split('.')[-1]: t for t in
                cfg.train_dataloader.dataset.pipeline}
    assert pipeline['Resize'].scale == (1024, 1024)
    flip = pipeline['RandomFlip']
    assert flip.direction == ['horizontal', 'vertical', 'diagonal']
    assert flip.prob == [0.25, 0.25, 0.25]  # h and v at 0.5 each, independent
    rotate = pipeline['RandomChoiceRotate']
    assert sorted(rotate.angles) == [-90, 90, 180] and rotate.prob == 0.5
    classes = ('plane', 'baseball-diamond', 'bridge', 'ground-track-field',
               'small-vehicle', 'large-vehicle', 'ship', 'tennis-court',
               'basketball-court', 'storage-tank', 'soccer-ball-field',
               'roundabout', 'harbor', 'swimming-pool', 'helicopter')
    assert {classes[i] for i in rotate.rect_obj_labels} == {
        'roundabout', 'storage-tank'
    }
    assert cfg.model.test_cfg.rcnn.nms.type == 'nms_rotated'
    assert cfg.model.test_cfg.rcnn.nms.iou_threshold == 0.1
    assert cfg.submission_evaluator.merge_patches is True
    assert cfg.val_evaluator.type == 'DOTAMetric'


def _rotated_batch(size: int = 512):
    """Two images with rotated boxes (cx, cy, w, h, angle in radians)."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    from mmrotate.structures.bbox import RotatedBoxes
    samples = []
    boxes = ([[160., 200., 120., 40., 0.5], [360., 300., 80., 80., 0.]],
             [[250., 250., 200., 60., -0.9]])
    for labels, image_boxes in zip(([0, 9], [5]), boxes):
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size),
                scale_factor=(1., 1.),
                batch_input_shape=(size, size)))
        sample.gt_instances = InstanceData(
            bboxes=RotatedBoxes(torch.tensor(image_boxes)),
            labels=torch.tensor(labels))
        samples.append(sample)
    return dict(
        inputs=list(torch.rand(2, 3, size, size) * 255), data_samples=samples)


@pytest.mark.parametrize('design', DESIGNS)
def test_loss_step_reaches_every_backbone_parameter(design):
    from mmengine.model import revert_sync_batchnorm
    cfg = Config.fromfile(config_path(design))
    model = revert_sync_batchnorm(build(cfg)).train()
    data = model.data_preprocessor(_rotated_batch(), training=True)
    losses = model(**data, mode='loss')
    for name in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        assert name in losses, name
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    missing = [
        name for name, p in model.backbone.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.isfinite(
            p.grad).all())
    ]
    assert not missing, f'{design}: no finite gradient at {missing[:5]}'
    if design == 'dge-pvt-tiny':
        assert 'loss_budget' in losses
