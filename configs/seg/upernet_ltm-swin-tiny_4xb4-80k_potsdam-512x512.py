# UperNet + auxiliary FCN head with an LTM-Swin-T backbone on ISPRS Potsdam
# (mmseg protocol: 6 classes incl. clutter, eroded labels), 512x512 crops,
# 80k iterations, 4 GPUs x 4 images, sliding-window test (crop 512,
# stride 384). Keep ratio 0.7 in every 7x7 window (see
# configs/cls/ltm-swin-tiny_8xb64_aid.py).
_base_ = [
    '../_base_/models/upernet.py',
    '../_base_/datasets/potsdam.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
model = dict(
    # Backbone defaults otherwise (all four stages out, nothing frozen, no
    # checkpointing, random weights). mmpretrain Swin-T ImageNet weights
    # initialise every host part (output norms 0-2 and the mask modules
    # start fresh): init_cfg=dict(type='Pretrained', checkpoint=...,
    # prefix='backbone.').
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LTMSwin',
        arch='tiny',
        keep_ratios=0.7,
        drop_path_rate=0.2))
# The heads' in_channels are the base's (Swin-T widths, [96, 192, 384, 768];
# the auxiliary head on stage 3, 384 channels).
