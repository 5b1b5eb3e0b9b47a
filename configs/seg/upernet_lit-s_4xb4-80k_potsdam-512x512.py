# UperNet + auxiliary FCN head with a LIT-S backbone on ISPRS Potsdam
# (mmseg protocol: 6 classes incl. clutter, eroded labels), 512x512 crops,
# 80k iterations, 4 GPUs x 4 images, sliding-window test (crop 512,
# stride 384).
_base_ = [
    '../_base_/models/upernet.py',
    '../_base_/datasets/potsdam.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
model = dict(
    # Backbone defaults otherwise (all four stages out, nothing frozen,
    # random weights). ImageNet weights: init_cfg=dict(type='Pretrained',
    # checkpoint=..., prefix='backbone.') (convert with
    # tools/model_converters).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LIT',
        arch='s',
        # Bias tables built for 512 px, as the official segmentation code: a
        # 224 px checkpoint's tables are resized to them at load.
        bias_table_img_size=512,
        drop_path_rate=0.2,
        # Global attention is memory heavy: checkpoint the blocks, as the
        # official LIT-S configs do.
        with_cp=True))
# The heads' in_channels are the base's (Swin-T widths, [96, 192, 384, 768];
# the auxiliary head on stage 3, 384 channels), which are LIT-S's.

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
