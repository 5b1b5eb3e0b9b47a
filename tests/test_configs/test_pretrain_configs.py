# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The pretraining configs (configs/pretrain/: ImageNet-1K, and LeMeViT's
MillionAID scene pretraining) say the official recipes: every
hyperparameter is asserted against a table written from the specs
(specs/{lemevit,dge,lit,ltm}.md, training-recipe sections) and the
official code they cite, so that an edit cannot drift silently; the
no-decay keys match parameters, and the optimizer mmengine builds puts
them (and every parameter timm exempts: ndim <= 1, biases) in groups
without weight decay.

The configs themselves are also covered by test_configs.py (load, build,
forward, loss step, demo) and test_inheritance.py (names, no restating).
"""
import copy
import glob
import importlib
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from tests import REPO_ROOT

PRETRAIN = osp.join(REPO_ROOT, 'configs', 'pretrain')

# ------------------------------------------------------------------ table --
# What the official runs share (timm/DeiT training scripts): epochs, AdamW
# lr 5e-4 per 512 images, weight decay 0.05, Mixup 0.8 / CutMix 1.0, label
# smoothing 0.1, random erasing 0.25, RandAugment rand-m9-mstd0.5-inc1,
# bicubic, AMP. Rows override what their run changes.
COMMON = dict(
    epochs=300,
    lr_per_512=5e-4,
    weight_decay=0.05,
    mixup=0.8,
    cutmix=1.0,
    smoothing=0.1,
    erasing=0.25,
    rand_aug=(9, 0.5),  # magnitude, magnitude std
    img_size=224,
    amp=True,
    clip_grad=None,
    ema_decay=None,
    repeated_aug=False,
    # warm-up start and floor scale with the batch like the lr (LeMeViT's
    # auto_scale_warmup_min_lr, Swin's main.py) or are absolute (DeiT)
    scaled_warmup_min=False,
    cosine_end=None,  # the cosine reaches the floor at the last epoch
    no_decay=(),  # no_weight_decay() names beyond timm's ndim <= 1 rule
    lr_mult={},
    budget=None,  # DGE budget loss (budget, weight)
    ib=None,  # LTM IB term (weight, start ratio, clusters)
    unverified=False,  # the header must say what is not verified
    dataset='in1k',  # a key of DATASETS
)
# The data each name's dataset field means: dataset type, data_root and
# number of classes.
DATASETS = dict(
    in1k=('ImageNet', 'data/imagenet', 1000),
    millionaid=('sparse_backbones.MillionAIDDataset', 'data/millionaid', 51))
# specs/lemevit.md section 4 (configs/lemevit.yaml, scripts/train.sh);
# repeated augmentation off: the yaml's repeated_aug is read by nothing
# (timm's aug_repeats stays 0); meta_tokens decayed (section 6, item 3).
LEMEVIT = dict(
    COMMON,
    gpus=8,
    per_gpu=256,
    warmup_epochs=5,
    warmup_lr=1e-6,
    min_lr=5e-6,
    scaled_warmup_min=True,
    cosine_end=280,  # + 20 cool-down epochs at the floor
    drop_path=0.15,
    ema_decay=0.996)
# specs/lemevit.md section 4, MillionAID (configs/
# lemevit_scene_recognition.yaml, scripts/train.sh): 51 classes, 100
# epochs, no warm-up, floor 1e-5 per 512 images (auto_scale_warmup_min_lr),
# weight decay 2e-5 (the later of the yaml's two); the rest as ImageNet.
LEMEVIT_MILLIONAID = dict(
    LEMEVIT,
    dataset='millionaid',
    epochs=100,
    weight_decay=2e-5,
    warmup_epochs=0,
    warmup_lr=None,
    min_lr=1e-5,
    cosine_end=None)
# specs/dge.md section 1.4 (vtpack configs/dge/*_mm4.sh, main.py); the
# GPU count is not given: 32 x 32 assumed.
DGE = dict(
    COMMON,
    gpus=32,
    per_gpu=32,
    img_size=256,
    warmup_epochs=20,
    warmup_lr=1e-6,
    min_lr=1e-5,
    drop_path=0.1,
    ema_decay=0.99996,
    repeated_aug=True,
    budget=(0.5, 1.0),
    unverified=True)
# specs/lit.md section 4: LIT-Ti (DeiT code) and LIT-S/M/B (Swin code).
LIT_TI = dict(
    COMMON,
    gpus=8,
    per_gpu=128,
    warmup_epochs=5,
    warmup_lr=1e-6,
    min_lr=1e-5,
    drop_path=0.1,
    repeated_aug=True,
    no_decay=('cls_token', ),
    lr_mult={'conv_offset.weight': 0.01})
LIT_SMB = dict(
    COMMON,
    gpus=8,
    per_gpu=128,
    warmup_epochs=20,
    warmup_lr=5e-7,
    min_lr=5e-6,
    scaled_warmup_min=True,
    clip_grad=5.0,
    no_decay=('relative_position_bias_table', ),
    lr_mult={'conv_offset.weight': 0.01})
# specs/ltm.md: only the IB term is published (weight 0.1 from 30 % of the
# epochs, K = 1000, label-smoothed CE: no Mixup/CutMix); the rest is the
# host's recipe (DeiT-S, Swin-T), not verified.
LTM_IB = dict(ib=(0.1, 0.3, 1000), mixup=None, cutmix=None, unverified=True)
MERGE_SCALARS = ('merge.alpha', 'merge.log_tau')

# yapf: disable
RECIPES = {
    'lemevit-tiny_8xb256_in1k.py': dict(LEMEVIT, arch='tiny'),
    'lemevit-small_8xb256_in1k.py': dict(
        LEMEVIT, arch='small', unverified=True),
    'lemevit-base_8xb256_in1k.py': dict(
        LEMEVIT, arch='base', unverified=True),
    'lemevit-tiny_8xb256_millionaid.py': dict(
        LEMEVIT_MILLIONAID, arch='tiny'),
    'lemevit-small_8xb256_millionaid.py': dict(
        LEMEVIT_MILLIONAID, arch='small', unverified=True),
    'lemevit-base_8xb256_millionaid.py': dict(
        LEMEVIT_MILLIONAID, arch='base', unverified=True),
    'dge-deit-tiny_32xb32_in1k-256px.py': dict(
        DGE, arch='tiny', no_decay=('cls_token', 'pos_embed')),
    'dge-deit-small_32xb32_in1k-256px.py': dict(
        DGE, arch='small', no_decay=('cls_token', 'pos_embed')),
    # vtpack's PVT no_weight_decay(): the class token only
    'dge-pvt-tiny_32xb32_in1k-256px.py': dict(
        DGE, arch='tiny', no_decay=('cls_token', )),
    'dge-pvt-small_32xb32_in1k-256px.py': dict(
        DGE, arch='small', no_decay=('cls_token', )),
    'lit-ti_8xb128_in1k.py': dict(LIT_TI, arch='ti'),
    'lit-s_8xb128_in1k.py': dict(LIT_SMB, arch='s', drop_path=0.2),
    'lit-m_8xb128_in1k.py': dict(LIT_SMB, arch='m', drop_path=0.3),
    'lit-b_8xb128_in1k.py': dict(LIT_SMB, arch='b', drop_path=0.5),
    'ltm-vit-small_4xb256_in1k.py': dict(
        COMMON,
        **LTM_IB,
        arch='small',
        gpus=4,
        per_gpu=256,
        warmup_epochs=5,
        warmup_lr=1e-6,
        min_lr=1e-5,
        drop_path=0.1,
        ema_decay=0.99996,
        repeated_aug=True,
        no_decay=('cls_token', 'pos_embed') + MERGE_SCALARS),
    'ltm-swin-tiny_8xb128_in1k.py': dict(
        LIT_SMB,
        **LTM_IB,
        arch='tiny',
        lr_mult={},
        drop_path=0.2,
        no_decay=('relative_position_bias_table', ) + MERGE_SCALARS),
}
# yapf: enable
# The smallest config of each design (and recipe): their models are built
# by default, the others in the slow run.
SMALLEST = ('lemevit-tiny_8xb256_in1k.py', 'lemevit-tiny_8xb256_millionaid.py',
            'dge-deit-tiny_32xb32_in1k-256px.py',
            'dge-pvt-tiny_32xb32_in1k-256px.py', 'lit-ti_8xb128_in1k.py',
            'lit-s_8xb128_in1k.py', 'ltm-vit-small_4xb256_in1k.py',
            'ltm-swin-tiny_8xb128_in1k.py')
NAME = re.compile(r'^(?P<model>[a-z0-9-]+)_(?P<gpus>\d+)xb(?P<batch>\d+)'
                  r'_(?P<dataset>in1k|millionaid)(?:-(?P<res>\d+)px)?\.py$')


def load(name: str) -> Config:
    return Config.fromfile(osp.join(PRETRAIN, name))


def transform(pipeline: list, name: str) -> dict:
    (found, ) = [t for t in pipeline if t['type'].split('.')[-1] == name]
    return found


def test_every_pretrain_config_has_a_row():
    names = {osp.basename(p) for p in glob.glob(osp.join(PRETRAIN, '*.py'))}
    assert names == set(RECIPES)


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_config_states_the_recipe(name):
    row = RECIPES[name]
    cfg = load(name)
    total = row['gpus'] * row['per_gpu']
    scale = total / 512

    # batch: in the name, per GPU, and the lr's reference in auto_scale_lr
    match = NAME.match(name)
    assert match, name
    assert (int(match['gpus']), int(match['batch'])) == \
        (row['gpus'], row['per_gpu'])
    assert match['dataset'] == row['dataset']
    dataset_type, data_root, num_classes = DATASETS[row['dataset']]
    assert int(match['res'] or 224) == row['img_size']
    assert cfg.train_dataloader.batch_size == row['per_gpu']
    assert cfg.auto_scale_lr == dict(base_batch_size=total)

    # optimizer
    optim_wrapper = cfg.optim_wrapper
    assert optim_wrapper.type == ('AmpOptimWrapper'
                                  if row['amp'] else 'OptimWrapper')
    optimizer = optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == pytest.approx(row['lr_per_512'] * scale)
    assert optimizer.weight_decay == row['weight_decay']
    assert optimizer.eps == 1e-8 and tuple(optimizer.betas) == (0.9, 0.999)
    clip = optim_wrapper.get('clip_grad')
    assert (clip and clip.max_norm) == row['clip_grad']
    paramwise = optim_wrapper.paramwise_cfg
    assert paramwise.norm_decay_mult == paramwise.bias_decay_mult == \
        paramwise.flat_decay_mult == 0
    custom = paramwise.get('custom_keys', {})
    assert set(custom) == set(row['no_decay']) | set(row['lr_mult'])
    for key in row['no_decay']:
        assert custom[key] == dict(decay_mult=0.), key
    for key, mult in row['lr_mult'].items():
        assert custom[key] == dict(lr_mult=mult), key

    # schedule: warm-up from warmup_lr (if any), cosine to min_lr
    assert cfg.train_cfg.max_epochs == row['epochs']
    lr_scale = scale if row['scaled_warmup_min'] else 1
    if row['warmup_epochs']:
        warmup, cosine = cfg.param_scheduler
        assert warmup.type == 'LinearLR'
        assert warmup.by_epoch and warmup.convert_to_iter_based
        assert warmup.get('begin', 0) == 0
        assert warmup.end == cosine.begin == row['warmup_epochs']
        # scaled: relative to the lr, so that --auto-scale-lr keeps them so
        assert optimizer.lr * warmup.start_factor == pytest.approx(
            row['warmup_lr'] * lr_scale)
    else:
        (cosine, ) = cfg.param_scheduler
        assert cosine.get('begin', 0) == 0
    assert cosine.type == 'CosineAnnealingLR'
    assert cosine.by_epoch
    assert cosine.get('end', row['epochs']) == (
        row['cosine_end'] or row['epochs'])
    if row['scaled_warmup_min']:
        assert 'eta_min' not in cosine
        floor = optimizer.lr * cosine.eta_min_ratio
    else:
        assert 'eta_min_ratio' not in cosine
        floor = cosine.eta_min
    assert floor == pytest.approx(row['min_lr'] * lr_scale)

    # model
    backbone = cfg.model.backbone
    assert backbone.arch == row['arch']
    assert backbone.drop_path_rate == row['drop_path']
    assert cfg.model.head.num_classes == num_classes
    assert cfg.data_preprocessor.num_classes == num_classes
    loss = cfg.model.head.loss
    assert loss.type == 'LabelSmoothLoss' and loss.mode == 'original'
    assert loss.label_smooth_val == row['smoothing']
    augments = (cfg.model.get('train_cfg') or {}).get('augments', [])
    alphas = dict(Mixup=row['mixup'], CutMix=row['cutmix'])
    expected = {k: v for k, v in alphas.items() if v is not None}
    assert {a.type: a.alpha for a in augments} == expected
    aux = cfg.model.get('aux_losses', {})
    if row['budget']:
        assert cfg.model.type == 'sparse_backbones.DynamicImageClassifier'
        assert aux.loss_budget.type == 'sparse_backbones.BudgetLoss'
    else:
        assert not aux
    hooks = {h.type.split('.')[-1]: h for h in cfg.get('custom_hooks', [])}
    if row['ib']:
        assert cfg.model.head.type == 'sparse_backbones.LTMIBClsHead'
        assert cfg.model.head.ib_loss.type == 'sparse_backbones.LTMIBLoss'
        assert hooks['LTMIBHook'].start_ratio == row['ib'][1]
    else:
        assert 'ib_loss' not in cfg.model.head and 'LTMIBHook' not in hooks

    # EMA: mmengine's momentum is 1 - decay
    if row['ema_decay']:
        ema = hooks['EMAHook']
        assert ema.momentum == pytest.approx(1 - row['ema_decay'])
        assert ema.get('ema_type', 'ExponentialMovingAverage') == \
            'ExponentialMovingAverage'
    else:
        assert 'EMAHook' not in hooks

    # data
    train = cfg.train_dataloader
    assert train.dataset.type == dataset_type
    assert train.dataset.data_root == data_root
    for loader in ('val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.type == dataset_type
        assert cfg[loader].dataset.data_root == data_root
    assert train.sampler.type == ('RepeatAugSampler'
                                  if row['repeated_aug'] else 'DefaultSampler')
    assert train.sampler.get('num_repeats', 3) == 3
    pipeline = train.dataset.pipeline
    crop = transform(pipeline, 'RandomResizedCrop')
    assert crop.scale == row['img_size']
    assert crop.interpolation == 'bicubic' and crop.backend == 'pillow'
    rand_aug = transform(pipeline, 'RandAugment')
    assert rand_aug.policies == 'timm_increasing'
    assert (rand_aug.num_policies, rand_aug.total_level) == (2, 10)
    assert (rand_aug.magnitude_level, rand_aug.magnitude_std) == \
        row['rand_aug']
    assert rand_aug.hparams.interpolation == 'bicubic'
    erasing = transform(pipeline, 'RandomErasing')
    # mode 'rand' with fill_std: timm's per-pixel normal noise ('pixel')
    assert erasing.erase_prob == row['erasing'] and erasing.mode == 'rand'
    assert 'fill_std' in erasing
    assert transform(pipeline, 'RandomFlip').prob == 0.5
    test = cfg.test_dataloader.dataset
    assert test.pipeline == cfg.val_dataloader.dataset.pipeline
    resize = transform(test.pipeline, 'ResizeEdge')
    # crop_pct 0.875 of the official evaluations
    assert resize.scale == int(row['img_size'] / 0.875)
    assert resize.interpolation == 'bicubic' and resize.edge == 'short'
    assert transform(test.pipeline, 'CenterCrop').crop_size == \
        row['img_size']


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_header_gives_the_cluster_commands(name):
    """8 GPUs (tools/dist_train.sh CONFIG 8, with the per-GPU batch that
    keeps the total batch where the recipe used another GPU count) and
    slurm (tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR) with the
    recipe's GPU count; and 'not verified' where the recipe has guesses."""
    row = RECIPES[name]
    with open(osp.join(PRETRAIN, name)) as f:
        header = []
        for line in f:
            if not line.startswith('#'):
                break
            header.append(line[1:].strip())
    text = ' '.join(' '.join(header).replace('\\', ' ').split())
    config = f'configs/pretrain/{name}'
    dist = f'tools/dist_train.sh {config} 8'
    total = row['gpus'] * row['per_gpu']
    if row['gpus'] != 8:
        dist += f' --cfg-options train_dataloader.batch_size={total // 8}'
    assert dist in text
    stem = name[:-len('.py')]
    slurm = re.search(
        r'GPUS=(\d+) (?:GPUS_PER_NODE=(\d+) )?tools/slurm_train\.sh '
        rf'PARTITION \S+ {re.escape(config)} work_dirs/{re.escape(stem)}',
        text)
    assert slurm, text
    assert int(slurm[1]) == row['gpus']
    assert int(slurm[2] or 8) == min(row['gpus'], 8)
    assert ('not verified' in text.lower()) == row['unverified']


# The top-1 each paper (or its official README) reports for the config's
# model and dataset; None where none is published (specs/dge.md: no PVT).
PAPER_TOP1 = {
    'lemevit-tiny_8xb256_in1k.py': '79.07',
    'lemevit-small_8xb256_in1k.py': '81.88',
    'lemevit-base_8xb256_in1k.py': '84.35',
    'lemevit-tiny_8xb256_millionaid.py': '98.80',
    'lemevit-small_8xb256_millionaid.py': '99.00',
    'lemevit-base_8xb256_millionaid.py': '99.17',
    'dge-deit-tiny_32xb32_in1k-256px.py': '73.2',
    'dge-deit-small_32xb32_in1k-256px.py': '80.1',
    'dge-pvt-tiny_32xb32_in1k-256px.py': None,
    'dge-pvt-small_32xb32_in1k-256px.py': None,
    'lit-ti_8xb128_in1k.py': '81.1',
    'lit-s_8xb128_in1k.py': '81.5',
    'lit-m_8xb128_in1k.py': '83.0',
    'lit-b_8xb128_in1k.py': '83.4',
    'ltm-vit-small_4xb256_in1k.py': '81.8',
    'ltm-swin-tiny_8xb128_in1k.py': '81.8',
}


def test_every_pretrain_config_has_a_paper_top1_row():
    assert set(PAPER_TOP1) == set(RECIPES)


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_header_gives_paper_top1_and_epoch_time(name):
    """What to expect: the paper's top-1 (or that none is published) and
    the wall time per epoch (or that it was not measured)."""
    with open(osp.join(PRETRAIN, name)) as f:
        header = ' '.join(line[1:].strip() for line in f
                          if line.startswith('#'))
    top1 = PAPER_TOP1[name]
    expected = f'Paper top-1: {top1} on ' if top1 else \
        'Paper top-1: not published'
    assert expected in header
    dataset = 'MillionAID' if 'millionaid' in name else 'ImageNet-1K'
    if top1:
        assert f'{top1} on {dataset} val' in header
    assert re.search(r'Wall time per epoch: (not measured|[\d.]+ min on )',
                     header)


# ---------------------------------------------------------- built models --
_MODELS = {}


def build(name: str):
    """(config, model) built as the runner builds it (top-level
    data_preprocessor merged into the model), once per session."""
    if name not in _MODELS:
        import sparse_backbones  # noqa: F401  (registers the types)
        cfg = load(name)
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        host = importlib.import_module(f'{cfg.default_scope}.registry')
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            _MODELS[name] = cfg, host.MODELS.build(model_cfg)
    return _MODELS[name]


def check_param_groups(name: str) -> None:
    row = RECIPES[name]
    cfg, model = build(name)
    names = [n for n, _ in model.named_parameters()]
    for key in cfg.optim_wrapper.paramwise_cfg.get('custom_keys', {}):
        assert any(key in n for n in names), \
            f'custom key {key!r} matches no parameter of {name}'

    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if not torch.cuda.is_available():
        optim_cfg.type = 'OptimWrapper'  # AmpOptimWrapper needs a GPU
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        optimizer = build_optim_wrapper(model, optim_cfg).optimizer
    groups = {
        id(p): group
        for group in optimizer.param_groups
        for p in group['params']
    }
    base_lr = cfg.optim_wrapper.optimizer.lr
    decayed = set()
    for param_name, param in model.named_parameters():
        group = groups[id(param)]
        # timm's rule in every official optimizer, plus no_weight_decay()
        no_decay = (
            param.ndim <= 1 or param_name.endswith('.bias')
            or any(k in param_name for k in row['no_decay']))
        expected = 0. if no_decay else row['weight_decay']
        assert group['weight_decay'] == expected, param_name
        mult = [m for k, m in row['lr_mult'].items() if k in param_name]
        assert group['lr'] == pytest.approx(base_lr * (mult or [1.])[0]), \
            param_name
        if not no_decay:
            decayed.add(param_name)
    if name.startswith('lemevit'):
        # 2-D, and the official no_weight_decay() does not name it
        assert 'backbone.meta_tokens' in decayed
    if name.startswith('lit'):
        # offsets at 0.01x the lr; weights decayed, biases not
        offsets = [n for n in names if '.conv_offset.' in n]
        assert len(offsets) == 6 and \
            sum(n in decayed for n in offsets) == 3


def check_model(name: str) -> None:
    """The built parts say what the config means, and a small batch runs:
    logits for the dataset's classes (1000, MillionAID 51), and a training
    step through the data preprocessor (batch augments) with finite
    losses."""
    row = RECIPES[name]
    num_classes = DATASETS[row['dataset']][2]
    cfg, model = build(name)
    augments = model.data_preprocessor.batch_augments
    if row['mixup']:
        assert augments is not None and len(augments.augments) == 2
    else:
        assert augments is None
    if row['budget']:
        budget = model.aux_losses['loss_budget']
        assert (budget.budget, budget.loss_weight) == row['budget']
    if row['ib']:
        ib_loss = model.head.ib_loss
        assert (ib_loss.loss_weight, ib_loss.num_clusters) == \
            (row['ib'][0], row['ib'][2])
    from mmpretrain.structures import DataSample
    size = 64
    data = dict(
        inputs=list(
            torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)),
        data_samples=[
            DataSample().set_gt_label(i) for i in (3, num_classes - 1)
        ])
    model.train()
    batch = model.data_preprocessor(data, training=True)
    if row['mixup']:
        # one-hot over the classes, then mixed
        assert batch['data_samples'][0].gt_score.shape == (num_classes, )
    losses = model(**batch, mode='loss')
    assert all(torch.isfinite(v).all() for v in losses.values())
    model.eval()
    with torch.no_grad():
        logits = model(batch['inputs'], mode='tensor')
    assert logits.shape == (2, num_classes)


@pytest.mark.parametrize('name', SMALLEST)
def test_no_decay_keys_and_param_groups(name):
    check_param_groups(name)


@pytest.mark.parametrize('name', SMALLEST)
def test_model_builds_and_steps(name):
    check_model(name)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(set(RECIPES) - set(SMALLEST)))
def test_full_size_param_groups_and_step(name):
    check_param_groups(name)
    check_model(name)
