# Mask R-CNN + FPN with an LTM-Swin-T backbone on DOTA-v1.0 patches
# (1024x1024, horizontal boxes + polygon masks, 15 classes), 1x AdamW
# schedule, 8 GPUs x 2 images. Evaluation: VOC07 11-point mAP at IoU 0.5 per
# patch, difficult objects ignored. Keep ratio 0.7 in every 7x7 window (see
# configs/cls/ltm-swin-tiny_8xb64_aid.py); maps are padded to the window as
# Swin does.
_base_ = [
    '../_base_/models/mask_rcnn.py',
    '../_base_/datasets/dota.py',
    '../_base_/schedules/det_adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    # Backbone defaults otherwise (see mask-rcnn_lemevit-tiny_fpn_1x_dota.py).
    # mmpretrain Swin-T ImageNet weights initialise every host part (output
    # norms 0-2 and the mask modules start fresh): init_cfg=dict(
    # type='Pretrained', checkpoint=..., prefix='backbone.').
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LTMSwin',
        arch='tiny',
        keep_ratios=0.7,
        drop_path_rate=0.2),
    # LTM-Swin-T stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[96, 192, 384, 768]))
