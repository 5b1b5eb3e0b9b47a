# AID scene classification (30 classes), one random per-class split.
# Layout: data/AID/<Class>/<class>_<i>.jpg plus split files written by
# sparse_backbones.datasets.make_aid_split ('Airport/airport_1.jpg 0' lines).
# 20 % training (train_20_seed0) is the harder of the two AID protocols; use
# train_50_seed0 / test_50_seed0 for the 50 % protocol, and seeds 0..4 for
# the usual mean +- std over five splits.
dataset_type = 'sparse_backbones.AIDDataset'
data_root = 'data/AID'
train_split = 'splits/train_20_seed0.txt'
test_split = 'splits/test_80_seed0.txt'

data_preprocessor = dict(
    num_classes=30,
    # ImageNet statistics, RGB order
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_split,
        data_prefix='',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=test_split,
        data_prefix='',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
# AID has no separate test set: the held-out part of the split is it.
test_dataloader = val_dataloader
test_evaluator = val_evaluator
