# UperNet + auxiliary FCN head with a DGE-PVT-tiny backbone (budget 0.5) on
# ISPRS Potsdam (mmseg protocol: 6 classes incl. clutter, eroded labels),
# 512x512 crops, 80k iterations, 4 GPUs x 4 images, sliding-window test
# (crop 512, stride 384). The budget loss is added to the segmentor's
# losses (DynamicEncoderDecoder) and val/flops_ratio is logged.
_base_ = [
    '../_base_/models/upernet.py',
    '../_base_/datasets/potsdam.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/seg_adamw_poly_80k.py',
]
model = dict(
    type='sparse_backbones.DynamicEncoderDecoder',
    # BudgetLoss at its defaults: budget 0.5 (fraction of the static FLOPs
    # kept), weight 1.
    aux_losses=dict(loss_budget=dict(type='BudgetLoss')),
    # Backbone defaults otherwise: all four stages out, nothing frozen, no
    # checkpointing, random weights, position embeddings made for 256 px.
    # ImageNet weights: init_cfg=dict(type='Pretrained', checkpoint=...,
    # prefix='backbone.') (convert with tools/model_converters).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    # Stage 3 (stride 16, 320 channels).
    auxiliary_head=dict(in_channels=320))

# Routers at 10x the base LR, as configs/cls/dge-deit-tiny_8xb64_aid-256px.py
# explains; no decay on the cls token and position embeddings.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.router.': dict(lr_mult=10.),
            'cls_token': dict(decay_mult=0.),
            'pos_embed': dict(decay_mult=0.)
        }))
# Mean realised FLOPs ratio over the validation/test set (val/flops_ratio).
custom_hooks = [dict(type='sparse_backbones.FLOPsRatioHook')]
