# The 5-class Potsdam protocol of RSP / RVSA / LeMeViT: clutter is ignored
# (mapped to 255 through the dataset metainfo), metrics OA, mF1 and mIoU
# over the 5 remaining classes (sparse_backbones.ISPRSMetric): the recipe of
# upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py on the potsdam_5cls
# dataset base. Same data: mmseg's converter output with
# reduce_zero_label=True.
_base_ = [
    '../_base_/models/upernet.py',
    '../_base_/datasets/potsdam_5cls.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
model = dict(
    # Backbone defaults otherwise (see the 6-class config).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[64, 128, 192, 320], num_classes=5),
    # Stage 3 (stride 16, 192 channels).
    auxiliary_head=dict(in_channels=192, num_classes=5))
