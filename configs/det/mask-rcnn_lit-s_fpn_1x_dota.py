# Mask R-CNN + FPN with a LIT-S backbone on DOTA-v1.0 patches (1024x1024,
# horizontal boxes + polygon masks, 15 classes), 1x AdamW schedule, 8 GPUs x
# 2 images. Evaluation: VOC07 11-point mAP at IoU 0.5 per patch, difficult
# objects ignored.
_base_ = [
    '../_base_/models/mask_rcnn.py',
    '../_base_/datasets/dota.py',
    '../_base_/schedules/det_adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    # Backbone defaults otherwise (see mask-rcnn_lemevit-tiny_fpn_1x_dota.py).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LIT',
        arch='s',
        # Bias tables built for 800 px, as the official detection code: a
        # 224 px checkpoint's tables are resized to them at load.
        bias_table_img_size=800,
        drop_path_rate=0.2,
        # Global attention over a 64x64 stride-16 map (4096 tokens) is memory
        # heavy: checkpoint the blocks, as the official LIT-S configs do.
        with_cp=True),
    # LIT-S stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    paramwise_cfg=dict(
        # Replaces the schedule's custom_keys (LIT has no meta tokens).
        _delete_=True,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            # DTM offsets train at 0.01x the learning rate (specs/lit.md
            # section 2.3; the official offset bias, at the full rate
            # there, follows its weight here).
            'conv_offset.weight': dict(lr_mult=0.01),
            'conv_offset.bias': dict(lr_mult=0.01, decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'pos_embed': dict(decay_mult=0.),
        }))
