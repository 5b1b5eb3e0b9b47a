# UperNet + auxiliary FCN head with a LeMeViT-tiny backbone on ISPRS
# Vaihingen (mmseg protocol: 6 classes incl. clutter, eroded labels), 512x512
# crops, 80k iterations, 4 GPUs x 4 images, sliding-window test (crop 512,
# stride 384): upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py's recipe with
# another dataset base file. For the 5-class protocol (clutter ignored; OA,
# mF1, mIoU) inherit ../_base_/datasets/vaihingen_5cls.py instead and set
# num_classes = 5, as upernet_lemevit-tiny_4xb4-80k_potsdam-5cls-512x512.py
# does for Potsdam.
_base_ = [
    '../_base_/models/upernet.py',
    '../_base_/datasets/vaihingen.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
model = dict(
    # Backbone defaults otherwise (see the Potsdam config).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[64, 128, 192, 320]),
    # Stage 3 (stride 16, 192 channels).
    auxiliary_head=dict(in_channels=192))
