# UperNet + auxiliary FCN head with a LeMeViT-tiny backbone on ISPRS Potsdam
# (mmseg protocol: 6 classes incl. clutter, eroded labels), 512x512 crops,
# 80k iterations, 4 GPUs x 4 images, sliding-window test (crop 512,
# stride 384) as LeMeViT. See lemevit_upernet_5cls.py for the 5-class
# protocol (clutter ignored) of the RS papers.
_base_ = [
    '../_base_/models/upernet.py',
    '../_base_/datasets/potsdam.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

model = dict(
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
    decode_head=dict(in_channels=[64, 128, 192, 320]),
    # Stage 3 (stride 16, 192 channels).
    auxiliary_head=dict(in_channels=192))
