# Oriented R-CNN + FPN with an LTM-Swin-tiny backbone on DOTA-v1.0, with the
# LeMeViT paper's recipe (no oriented result is published for LTM).
_base_ = './oriented-rcnn-le90_lemevit-tiny_fpn_1x_dota.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LTMSwin',
        arch='tiny',
        keep_ratios=0.7,
        drop_path_rate=0.2,
        norm_eval=True),
    # LTM-Swin-T stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[96, 192, 384, 768]))
