# AID scene classification (30 classes), one random per-class split.
# Prepare (the AID folder stays untouched):
#   python tools/dataset_converters/aid.py aid /path/to/AID --out-dir data/AID
# which writes data/AID/images -> /path/to/AID (class folders) and
# data/AID/splits/{train,test}_<p>_seed<s>.txt ('Airport/airport_1.jpg 0').
# 20 % training (train_20_seed0) is the harder of the two AID protocols;
# aid_train50.py is the 50 % one; seeds 0..4 give the usual mean +- std over
# five splits (the converter prints the --cfg-options for another seed).
# nwpu_*.py and ucm_*.py reuse this file with their own folders and classes.
dataset_type = 'sparse_backbones.AIDDataset'
data_root = 'data/AID'
data_prefix = 'images'
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
    # mmpretrain's transforms, unscoped: the dataset and its pipeline build
    # in mmpretrain's scope (configs/README.md, `sparse_backbones::`).
    dataset=dict(
        _scope_='mmpretrain',
        type=dataset_type,
        data_root=data_root,
        ann_file=train_split,
        data_prefix=data_prefix,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _scope_='mmpretrain',
        type=dataset_type,
        data_root=data_root,
        ann_file=test_split,
        data_prefix=data_prefix,
        pipeline=test_pipeline))
val_evaluator = dict(_scope_='mmpretrain', type='Accuracy', topk=(1, 5))
# AID has no separate test set: the held-out part of the split is it.
test_dataloader = val_dataloader
test_evaluator = val_evaluator
