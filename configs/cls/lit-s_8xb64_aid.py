# LIT-S scene classification on AID (30 classes, 20 % train split),
# 224x224 input, 8 GPUs x 64 images.
_base_ = [
    '../_base_/models/classifier.py',
    '../_base_/datasets/aid.py',
    '../_base_/schedules/cls_adamw_cosine_100e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LIT',
        arch='s',
        drop_path_rate=0.2,
        # (B, 768) pre-logits of the official classifier (normalised tokens,
        # averaged; LIT-Ti: its cls token), so no neck.
        out_type='avg_featmap'),
    # Random weights (init_cfg=None, the default). ImageNet weights:
    # model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...,
    # prefix='backbone.') (convert with tools/model_converters).
    head=dict(num_classes=30, in_channels=768))

optim_wrapper = dict(
    # The official recipe clips gradients at 5.
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={
            # DTM offsets train at 0.01x the learning rate (LIT, section
            # 2.3 of specs/lit.md); the official code leaves the offset
            # bias at the full rate, here it follows its weight.
            'conv_offset.weight': dict(lr_mult=0.01),
            'conv_offset.bias': dict(lr_mult=0.01, decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
        }))
