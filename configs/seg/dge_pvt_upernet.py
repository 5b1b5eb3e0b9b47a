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
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

model = dict(
    type='sparse_backbones.DynamicEncoderDecoder',
    aux_losses=dict(
        loss_budget=dict(type='BudgetLoss', budget=0.5, loss_weight=1.0)),
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        img_size=256,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        with_cp=False,
        frozen_stages=-1,
        norm_eval=False,
        # ImageNet weights: dict(type='Pretrained', checkpoint=...,
        # prefix='backbone.') (convert with tools/model_converters).
        init_cfg=None),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    # Stage 3 (stride 16, 320 channels).
    auxiliary_head=dict(in_channels=320))

# Routers at 10x the base LR, as configs/cls/dge_deit_aid.py explains;
# no decay on the cls token and position embeddings.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '.router.': dict(lr_mult=10.),
            'cls_token': dict(decay_mult=0.),
            'pos_embed': dict(decay_mult=0.)
        }))
# Mean realised FLOPs ratio over the validation/test set (val/flops_ratio).
custom_hooks = [dict(type='sparse_backbones.FLOPsRatioHook')]
