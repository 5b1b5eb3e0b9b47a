# Oriented R-CNN (le90 angles) + FPN with a LeMeViT-tiny backbone on
# DOTA-v1.0, the detection protocol of the LeMeViT paper (76.63 mAP for
# tiny, specs/lemevit.md section 5.1). Everything not set here is mmrotate's
# own Oriented R-CNN config: RPN, RoI head, coders, assigners, rotated NMS
# (0.1), 1024 px patches, ImageNet mean/std, DOTAMetric (VOC07 11-point AP at
# IoU 0.5, as the DOTA server's Task1 evaluation). What mmrotate's
# parts cannot express of the original recipe: configs/rotated/README.md.
# Needs the maintained OpenMMLab fork (mmrotate): `make install`.
_base_ = 'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py'
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1,
        # The official detection backbone keeps its norms in eval mode while
        # training (frozen BatchNorm statistics; LayerNorm has none).
        norm_eval=True),
    # LeMeViT-tiny stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 192, 320]))

# Patches of tools/dataset_converters/dota.py under mmrotate's data_root
# (data/split_ss_dota/, configs/rotated/README.md): train on trainval,
# validate on val (contained in trainval: a sanity check, as the paper
# reports test-server numbers), submit the test split.
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=(1024, 1024), keep_ratio=True),
    # OBBRandomFlip h 0.5 / v 0.5, drawn independently: each of the four
    # outcomes (none, h, v, both = diagonal) has probability 1/4.
    dict(
        type='mmdet.RandomFlip',
        prob=[0.25, 0.25, 0.25],
        direction=['horizontal', 'vertical', 'diagonal']),
    # RandomOBBRotate(angles=(0, 0), vert_rate=0.5): half the patches turn
    # by a multiple of 90 degrees, the others stay. vert_cls (roundabout,
    # storage-tank: labels 11 and 9) restricts those classes to such turns,
    # which every turn here already is.
    dict(
        type='RandomChoiceRotate',
        angles=[90, 180, -90],
        prob=0.5,
        rect_obj_labels=[9, 11]),
    dict(type='mmdet.PackDetInputs')
]
train_dataloader = dict(
    # 2 GPUs x 8 images, as the official run (scripts/train_od.sh).
    batch_size=8,
    dataset=dict(ann_file='trainval/labelTxt/', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        # Ignore difficult (1) and cut-by-the-patch (2) objects, as the DOTA
        # server ignores difficult ones; training keeps mmrotate's default
        # (learn from all).
        diff_thr=0,
        ann_file='val/labelTxt/',
        data_prefix=dict(img_path='val/images/')))
test_dataloader = val_dataloader

# `tools/test.py CONFIG CKPT --format-only --out-dir DIR`: the test split,
# patch detections merged per full image (rotated NMS, mmrotate's
# merge_patches) into the Task1 files the DOTA server takes (DIR/*.zip).
submission_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DOTADataset',
        data_root={{_base_.data_root}},
        # no ann_file: images only
        data_prefix=dict(img_path='test/images/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}}))
submission_evaluator = dict(
    type='DOTAMetric',
    format_only=True,
    merge_patches=True,
    outfile_prefix='work_dirs/dota_submission')

# The paper's schedule (OBBDetection schedule_1x): 12 epochs, steps at 8 and
# 11, 500-iteration linear warm-up from 1e-3, AdamW lr 1e-3 (tiny, small)
# for a total batch of 16, wd 0.05, no paramwise rules, gradient clipping at
# 35 (mmrotate's already).
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        # lr 1e-3 and betas (0.9, 0.999): torch's defaults, the paper's too
        weight_decay=0.05))
auto_scale_lr = dict(enable=False, base_batch_size=16)
