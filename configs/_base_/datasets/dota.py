# DOTA-v1.0, single-scale 1024x1024 patches (gap 200), horizontal boxes and
# polygon instance masks. Layout (DOTA devkit / mmrotate splitter output):
#   data/split_ss_dota/{trainval,val,test}/images/*.png
#   data/split_ss_dota/{trainval,val}/labelTxt/*.txt
# Training uses trainval, as the published DOTA results do; `val` is the
# official validation set, which trainval contains, so its score is only a
# sanity check. For a clean validation number train on `train/` instead.
# Patches come from tools/dataset_converters/dota.py (see configs/det/
# README.md). The test split has no public labels: `tools/test.py CONFIG
# CKPT --format-only --out-dir DIR` runs the submission_* settings below and
# writes the Task1/Task2 files of the evaluation server (patch detections
# merged per full image). For official full-image scores on val inherit
# dota_official.py instead of this file.
dataset_type = 'sparse_backbones.DOTADataset'
data_root = 'data/split_ss_dota/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    # Polygons stay polygons: a 1024 patch can hold hundreds of vehicles, and
    # one bitmap per object would take ~1 MB each.
    dict(
        type='LoadAnnotations',
        with_bbox=True,
        with_mask=True,
        poly2mask=False),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    # Aerial views have no canonical orientation: flip both ways.
    dict(
        type='RandomFlip',
        prob=0.75,
        direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    # After Resize: VOCMetric compares with boxes in original coordinates.
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # mmdet's transforms, unscoped: the dataset and its pipeline build in
    # mmdet's scope (configs/README.md, `sparse_backbones::`).
    dataset=dict(
        _scope_='mmdet',
        type=dataset_type,
        data_root=data_root,
        ann_file='trainval/labelTxt/',
        data_prefix=dict(img_path='trainval/images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _scope_='mmdet',
        type=dataset_type,
        data_root=data_root,
        ann_file='val/labelTxt/',
        data_prefix=dict(img_path='val/images/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# DOTA Task2 (HBB) protocol per patch: VOC07 11-point AP at IoU 0.5;
# difficult objects are ignored through the dataset's ignore_flag. Needs
# only the patches; dota_official.py scores merged full images instead.
val_evaluator = dict(
    _scope_='mmdet',
    type='VOCMetric', metric='mAP', eval_mode='11points', iou_thrs=0.5)
test_evaluator = val_evaluator

# The test split for the evaluation server (tools/test.py --format-only,
# which sets outfile_prefix to its --out-dir): images only, split with
# `tools/dataset_converters/dota.py data/DOTA/test --images-only`.
submission_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
submission_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _scope_='mmdet',
        type=dataset_type,
        data_root=data_root,
        ann_file='',
        data_prefix=dict(img_path='test/images/'),
        test_mode=True,
        pipeline=submission_pipeline,
        backend_args=backend_args))
submission_evaluator = dict(
    type='sparse_backbones.DOTAMetric',
    format_only=True,
    outfile_prefix='work_dirs/dota_submission')
