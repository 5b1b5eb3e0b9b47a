# Oriented R-CNN + FPN with a DGE-PVT-tiny backbone on DOTA-v1.0, with the
# LeMeViT paper's recipe (no oriented result is published for DGE).
_base_ = './oriented-rcnn-le90_lemevit-tiny_fpn_1x_dota.py'

model = dict(
    type='sparse_backbones.DynamicFasterRCNN',
    # BudgetLoss at its defaults: budget 0.5 of the static FLOPs, weight 1.
    aux_losses=dict(loss_budget=dict(type='BudgetLoss')),
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        drop_path_rate=0.1,
        norm_eval=True),
    # DGE-PVT stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 320, 512]))
# The routers learn at 10x the lr, as in the DGE detection configs.
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'.router.': dict(lr_mult=10.)}))
custom_hooks = [dict(type='sparse_backbones.FLOPsRatioHook')]
