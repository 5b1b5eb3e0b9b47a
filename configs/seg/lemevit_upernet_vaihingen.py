# UperNet + auxiliary FCN head with a LeMeViT-tiny backbone on ISPRS
# Vaihingen (mmseg protocol: 6 classes incl. clutter, eroded labels), 512x512
# crops, 80k iterations, 4 GPUs x 4 images, sliding-window test (crop 512,
# stride 384): lemevit_upernet.py's recipe with another dataset base file.
# For the 5-class protocol (clutter ignored; OA, mF1, mIoU) inherit
# ../_base_/datasets/vaihingen_5cls.py instead and set num_classes = 5.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    '../_base_/datasets/vaihingen.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

crop_size = (512, 512)
num_classes = 6
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        with_cp=False,
        frozen_stages=-1,
        norm_eval=False,
        # ImageNet weights: dict(type='Pretrained', checkpoint=...,
        # prefix='backbone.') (convert with tools/model_converters).
        init_cfg=None),
    decode_head=dict(
        in_channels=[64, 128, 192, 320],
        num_classes=num_classes,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    # Stage 3 (stride 16, 192 channels).
    auxiliary_head=dict(
        in_channels=192,
        in_index=2,
        num_classes=num_classes,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=0.4,
            avg_non_ignore=True)),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(384, 384)))
