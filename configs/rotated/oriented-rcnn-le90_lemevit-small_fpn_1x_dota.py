# Oriented R-CNN + FPN, LeMeViT-small, DOTA-v1.0 (paper: 77.58 mAP). The
# recipe of the tiny config (same lr 1e-3, batch 2 x 8).
_base_ = './oriented-rcnn-le90_lemevit-tiny_fpn_1x_dota.py'

model = dict(
    backbone=dict(arch='small'),
    # LeMeViT-small stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[96, 192, 320, 384]))
