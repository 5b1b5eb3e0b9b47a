# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Every shipped config loads, builds its model and wires channels right;
``prepare_demo`` turns each into a small run on the demo data."""
import copy
import glob
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from sparse_backbones import demo

from tests import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT) for path in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path.split(osp.sep))
# Pretraining configs of the larger sizes build the classes of the smallest
# one of their design (their recipe values: test_pretrain_configs.py): the
# checks here run on them in the slow run only.
LARGER_PRETRAIN = ('lemevit-small', 'lemevit-base', 'dge-deit-small',
                   'dge-pvt-small', 'lit-m', 'lit-b')
CONFIG_PARAMS = [
    pytest.param(path, marks=pytest.mark.slow) if path.startswith(
        osp.join('configs', 'pretrain', '')) and osp.basename(path).startswith(
            tuple(f'{size}_' for size in LARGER_PRETRAIN)) else path
    for path in CONFIGS
]
# The documented entry point and the canonical config it inherits.
LEMEVIT_DOTA = ('lemevit_maskrcnn.py', 'mask-rcnn_lemevit-tiny_fpn_1x_dota.py')
# Task folder -> host package, default scope and demo task.
TASKS = dict(
    cls=('mmpretrain', 'cls'),
    pretrain=('mmpretrain', 'pretrain'),
    det=('mmdet', 'det'),
    rotated=('mmrotate', 'rot'),
    seg=('mmseg', 'seg'))
# The oriented configs get their loss step at 512 px in test_rotated.py.


def host_of(path: str) -> str:
    return TASKS[path.split(osp.sep)[1]][0]


def load(path: str) -> Config:
    # mmrotate exists only on the default (onedl) stack: its configs are
    # not tested on STACK=openmmlab (README, "Dependency stacks").
    pytest.importorskip(host_of(path), reason=f'{path} needs {host_of(path)}')
    return Config.fromfile(osp.join(REPO_ROOT, path))


def build_model(cfg: Config):
    host = importlib.import_module(f'{cfg.default_scope}.registry')
    model = copy.deepcopy(cfg.model)
    # As mmengine's Runner: a top-level data_preprocessor (mmpretrain's
    # num_classes, which batch augments need) goes into the model.
    if cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return host.MODELS.build(model)


def expected_in_channels(cfg: Config, out_channels) -> dict:
    """in_channels each neck/head must have, by config path."""
    model = cfg.model
    expected = {}
    if model.get('neck') and 'in_channels' in model.neck:
        expected['neck'] = list(out_channels)
    if model.get('head') and model.get('neck') is None:
        expected['head'] = out_channels[-1]
    for name in ('decode_head', 'auxiliary_head'):
        head = model.get(name)
        if head:
            index = head.in_index
            expected[name] = (
                out_channels[index] if isinstance(index, int) else
                [out_channels[i] for i in index])
    return expected


def test_configs_found():
    assert {
        osp.join('configs', 'cls', 'lemevit-tiny_8xb64_aid.py'),
        osp.join('configs', 'det', 'lemevit_maskrcnn.py'),
        osp.join('configs', 'seg',
                 'upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py')
    } <= set(CONFIGS)


@pytest.mark.parametrize('path', CONFIG_PARAMS)
def test_config_loads_with_custom_imports_and_scope(path):
    cfg = load(path)
    assert 'sparse_backbones' in cfg.custom_imports['imports']
    assert cfg.custom_imports.get('allow_failed_imports') is False
    assert cfg.default_scope == host_of(path)
    from sparse_backbones.registry import MODELS as OURS
    type_name = cfg.model.backbone.type
    assert type_name.split('.')[-1] in OURS.module_dict, type_name
    backbone_cls = OURS.get(type_name.split('.')[-1])
    assert cfg.model.backbone.arch in backbone_cls.arch_zoo


@pytest.mark.parametrize('path', CONFIG_PARAMS)
def test_config_builds_and_channels_match_backbone(path):
    cfg = load(path)
    model = build_model(cfg)
    out_channels = model.backbone.out_channels
    expected = expected_in_channels(cfg, out_channels)
    assert expected, 'no neck or head reads the backbone'
    for name, channels in expected.items():
        assert cfg.model[name].in_channels == channels, name
    if path.endswith('lemevit-tiny_8xb64_aid.py'):
        assert out_channels == (320, )
        assert model.head.fc.in_features == 320
        assert model.head.fc.out_features == 30
    if cfg.default_scope == 'mmpretrain':
        # from _base_/models/classifier.py and _base_/cls_runtime.py
        assert cfg.model.neck is None
        assert cfg.model.head.loss.label_smooth_val == 0.1
        assert cfg.default_hooks.checkpoint.interval == 10
    if cfg.default_scope == 'mmrotate':
        # mmrotate's Oriented R-CNN, 15 DOTA classes, with rotated boxes
        assert model.roi_head.bbox_head.num_classes == 15
        assert model.roi_head.bbox_head.predict_box_type == 'rbox'
        assert cfg.model.backbone.norm_eval is True
    if cfg.default_scope == 'mmdet':
        # from _base_/models/mask_rcnn.py
        assert model.roi_head.bbox_head.num_classes == 15
        assert model.roi_head.mask_head.num_classes == 15
        assert cfg.model.test_cfg.rcnn.max_per_img == 300
    if path.endswith(LEMEVIT_DOTA):
        assert out_channels == (64, 128, 192, 320)
    if 'upernet' in path:
        assert model.auxiliary_head.in_channels == out_channels[2]


@pytest.mark.parametrize('path', CONFIG_PARAMS)
def test_config_forward_on_small_input(path):
    """Inference runs end to end (CPU, eval mode, 64-128 px)."""
    from mmengine.model import revert_sync_batchnorm
    cfg = load(path)
    model = revert_sync_batchnorm(build_model(cfg)).eval()
    with torch.no_grad():
        if cfg.default_scope == 'mmpretrain':
            logits = model(torch.rand(2, 3, 64, 64), mode='tensor')
            assert logits.shape == (2, cfg.model.head.num_classes)
        elif cfg.default_scope in ('mmdet', 'mmrotate'):
            feats = model.extract_feat(torch.rand(1, 3, 128, 128))
            assert [f.shape[1] for f in feats] == [256] * 5
            assert feats[0].shape[-2:] == (32, 32)
        else:
            logits = model(torch.rand(1, 3, 64, 64), mode='tensor')
            assert logits.shape == (1, cfg.model.decode_head.num_classes, 16,
                                    16)


@pytest.mark.parametrize('path', CONFIG_PARAMS)
def test_other_arch_is_one_option_away(path):
    """``model.backbone.arch=<other>`` + sync_in_channels keeps the wiring."""
    from sparse_backbones.registry import MODELS as OURS
    from sparse_backbones.models import sync_in_channels
    cfg = load(path)
    backbone_cls = OURS.get(cfg.model.backbone.type.split('.')[-1])
    default = build_model(cfg).backbone.out_channels
    # The first arch whose channels differ from the config's own.
    for arch in backbone_cls.arch_zoo:
        cfg_other = copy.deepcopy(cfg)
        cfg_other.merge_from_dict({'model.backbone.arch': arch})
        sync_in_channels(cfg_other)
        model = build_model(cfg_other)
        if model.backbone.out_channels != default:
            break
    else:
        # Every arch has the same widths (e.g. DGE-PVT): switching must
        # still build with the wiring unchanged.
        assert model.backbone.out_channels == default
    for name, channels in expected_in_channels(
            cfg_other, model.backbone.out_channels).items():
        assert cfg_other.model[name].in_channels == channels, name


def test_seg_five_class_protocol():
    cfg = load(
        osp.join('configs', 'seg',
                 'upernet_lemevit-tiny_4xb4-80k_potsdam-5cls-512x512.py'))
    classes = cfg.train_dataloader.dataset.metainfo.classes
    assert 'clutter' not in classes and len(classes) == 5
    assert cfg.test_dataloader.dataset.metainfo.classes == classes
    assert cfg.model.decode_head.num_classes == 5
    assert cfg.model.auxiliary_head.num_classes == 5


# ------------------------------------------------------------------ demo --
@pytest.fixture(scope='module')
def demo_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp('demo_data'))


def without(model: dict, *keys) -> dict:
    model = copy.deepcopy(model.to_dict())
    for key in keys:
        node = model
        *parents, last = key.split('.')
        for parent in parents:
            node = node.get(parent, {})
        node.pop(last, None)
    return model


def size_limit(task: str) -> int:
    """Largest size a demo pipeline may name (test resize 256/224 of it)."""
    return int(demo.DEMO_IMAGE_SIZE[task] * 256 / 224)


@pytest.mark.parametrize('path', CONFIG_PARAMS)
def test_prepare_demo(path, demo_root):
    cfg = load(path)
    original = copy.deepcopy(cfg)
    out = demo.prepare_demo(cfg, data_root=demo_root)
    assert cfg.model == original.model and cfg.train_cfg == \
        original.train_cfg, 'prepare_demo must not modify its input'
    task = TASKS[path.split(osp.sep)[1]][1]
    assert demo.demo_task(out) == task
    size = demo.DEMO_IMAGE_SIZE[task]

    # The model is unchanged except what follows the image size.
    size_keys = ('data_preprocessor.size', 'test_cfg.crop_size',
                 'test_cfg.stride')
    if task in ('det', 'rot'):
        size_keys = ('train_cfg', 'test_cfg')
        # Counts follow the image size (iSAID patches are 800, DOTA 1024).
        ratio = size / demo._reference_size(cfg, task)
        for key in ('train_cfg.rcnn.sampler.num',
                    'train_cfg.rpn_proposal.max_per_img',
                    'test_cfg.rpn.nms_pre', 'test_cfg.rcnn.max_per_img'):
            before = cfg.model
            after = out.model
            for part in key.split('.'):
                before, after = before[part], after[part]
            assert after == max(1, round(before * ratio)), key
        if path.endswith(LEMEVIT_DOTA):
            assert out.model.train_cfg.rcnn.sampler.num == 128
            assert out.model.test_cfg.rcnn.max_per_img == 75
        # ... and only the counts changed there
        assert out.model.train_cfg.rcnn.assigner == \
            cfg.model.train_cfg.rcnn.assigner
        assert out.model.test_cfg.rcnn.nms == cfg.model.test_cfg.rcnn.nms
    assert without(out.model, *size_keys) == without(cfg.model, *size_keys)
    if task == 'seg':
        assert out.model.data_preprocessor.size == (size, size)
        assert out.model.test_cfg.crop_size == (size, size)
        assert out.model.test_cfg.stride == (96, 96)

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = out[key]
        assert loader.dataset.data_root.startswith(demo_root)
        assert loader.num_workers == 0 and not loader.persistent_workers
        sizes = [
            max(t[k]) if isinstance(t[k], (list, tuple)) else t[k]
            for t in loader.dataset.pipeline for k in ('scale', 'crop_size')
            if k in t
        ]
        assert sizes and all(size <= size_limit(task) for size in sizes)
    assert out.train_dataloader.batch_size == demo.DEMO_BATCH_SIZE[task]

    loop = out.train_cfg
    total = loop.get('max_epochs', loop.get('max_iters'))
    assert total == demo.DEMO_EPOCHS.get(task, demo.DEMO_ITERS.get(task))
    assert loop.val_interval == total
    by_epoch = 'max_epochs' in loop
    for scheduler in out.param_scheduler:
        begin, end = scheduler.get('begin', 0), scheduler.get('end', total)
        assert 0 <= begin < end
        if scheduler.get('by_epoch', True) == by_epoch:
            assert end <= total, scheduler
        else:  # iteration warm-up in epoch training
            assert end < total * 50, scheduler

    # Build the datasets and push one sample through each pipeline.
    host = importlib.import_module(f'{out.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(out.default_scope):
        train = host.DATASETS.build(out.train_dataloader.dataset)
        val = host.DATASETS.build(out.val_dataloader.dataset)
        assert len(train) > 0 and len(val) > 0
        sample = train[0]
    inputs = sample['inputs']
    assert max(inputs.shape[-2:]) <= size
    assert max(inputs.shape[-2:]) >= size // 2


def test_prepare_demo_replaces_a_foreign_dataset(demo_root):
    cfg = load(osp.join('configs', 'det', 'lemevit_maskrcnn.py'))
    cfg.train_dataloader.dataset.type = 'CocoDataset'
    with pytest.warns(UserWarning, match="replaces dataset type 'Coco"):
        out = demo.prepare_demo(cfg, data_root=demo_root)
    assert out.train_dataloader.dataset.type == 'sparse_backbones.DOTADataset'
    assert out.val_dataloader.dataset.type == cfg.val_dataloader.dataset.type


@pytest.mark.parametrize('gpu', [False, True])
def test_prepare_demo_runs_amp_configs_in_float32_without_gpu(
        gpu, demo_root, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: gpu)
    cfg = demo.prepare_demo(
        load('configs/pretrain/lemevit-tiny_8xb256_in1k.py'),
        data_root=demo_root)
    if gpu:
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    else:
        assert cfg.optim_wrapper.type == 'OptimWrapper'
        assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'


def test_demo_task_without_default_scope():
    cfg = Config(dict(model=dict(type='EncoderDecoder')))
    assert demo.demo_task(cfg) == 'seg'
    with pytest.raises(ValueError, match='default_scope'):
        demo.demo_task(Config(dict(model=dict(type='Foo'))))


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIG_PARAMS)
def test_demo_trains_and_evaluates(path, demo_root, tmp_path):
    from mmengine.runner import Runner
    cfg = demo.prepare_demo(load(path), data_root=demo_root)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    task = TASKS[path.split(osp.sep)[1]][1]
    key = dict(
        cls='accuracy/top1', pretrain='accuracy/top5', det='pascal_voc/mAP',
        rot='dota/mAP', seg='mIoU')[task]
    # The final validation published its metrics.
    value = runner.message_hub.get_scalar(f'val/{key}').current()
    assert 0 <= value <= 100
    assert glob.glob(osp.join(str(tmp_path), '*.pth'))


def _loss_batch(cfg: Config, size: int = 64):
    """A two-image training batch in the host's data-sample format."""
    images = torch.rand(2, 3, size, size) * 255
    if cfg.default_scope == 'mmpretrain':
        from mmpretrain.structures import DataSample
        samples = [DataSample().set_gt_label(i) for i in (1, 7)]
    elif cfg.default_scope == 'mmdet':
        from mmdet.structures import DetDataSample
        from mmdet.structures.mask import BitmapMasks
        from mmengine.structures import InstanceData
        samples = []
        for label in (3, 11):
            masks = torch.zeros(1, size, size, dtype=torch.uint8)
            masks[:, 8:40, 10:50] = 1
            sample = DetDataSample(
                metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                              pad_shape=(size, size), scale_factor=(1., 1.),
                              batch_input_shape=(size, size)))
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor([[10., 8., 50., 40.]]),
                labels=torch.tensor([label]),
                masks=BitmapMasks(masks.numpy(), size, size))
            samples.append(sample)
    else:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(2):
            sample = SegDataSample(
                metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                              pad_shape=(size, size)))
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, 5, (1, size, size)))
            samples.append(sample)
    return dict(inputs=list(images), data_samples=samples)


@pytest.mark.parametrize('path', [
    path for path in CONFIGS if path.split(osp.sep)[1] != 'rotated'
])
def test_config_loss_step(path):
    """One training step: losses are finite and reach the backbone."""
    from mmengine.model import revert_sync_batchnorm
    cfg = load(path)
    model = revert_sync_batchnorm(build_model(cfg)).train()
    data = model.data_preprocessor(_loss_batch(cfg), training=True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('arch,params', [
    ('tiny', 8_635_816),
    ('small', 16_400_456),
    ('base', 53_098_152),
])
def test_classifier_parameter_count(arch, params):
    """The AID classifier with a 1000-class head is the official model."""
    from sparse_backbones.models import sync_in_channels
    cfg = load(osp.join('configs', 'cls', 'lemevit-tiny_8xb64_aid.py'))
    cfg.merge_from_dict({
        'model.head.num_classes': 1000,
        'model.backbone.arch': arch
    })
    sync_in_channels(cfg)
    model = build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_child_config_sets_pretrained_weights_as_the_comments_say(
        path, tmp_path):
    """The configs' comments tell users to add the backbone's init_cfg in
    a child config; that merges (no inherited init_cfg=None stands in the
    way, which mmengine would refuse to merge a dict into)."""
    init_cfg = dict(
        type='Pretrained', checkpoint='converted.pth', prefix='backbone.')
    pytest.importorskip(host_of(path), reason=f'{path} needs {host_of(path)}')
    path = osp.join(REPO_ROOT, path)
    child = tmp_path / 'child.py'
    child.write_text(f'_base_ = [{path!r}]\n'
                     f'model = dict(backbone=dict(init_cfg={init_cfg!r}))\n')
    cfg = Config.fromfile(str(child))
    assert cfg.model.backbone.init_cfg == init_cfg
    assert cfg.model.backbone.type == Config.fromfile(path).model.backbone.type
