# Mask R-CNN + FPN with a DGE-PVT-tiny backbone (budget 0.5) on DOTA-v1.0
# patches (1024x1024, horizontal boxes + polygon masks, 15 classes), 1x AdamW
# schedule, 8 GPUs x 2 images. Evaluation: VOC07 11-point mAP at IoU 0.5 per
# patch, difficult objects ignored. The budget loss is added to the
# detector's losses (DynamicMaskRCNN) and val/flops_ratio is logged.
_base_ = [
    '../_base_/models/mask_rcnn.py',
    '../_base_/datasets/dota.py',
    '../_base_/schedules/det_adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    type='sparse_backbones.DynamicMaskRCNN',
    aux_losses=dict(
        loss_budget=dict(type='BudgetLoss', budget=0.5, loss_weight=1.0)),
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        # Position embeddings are made for 256 px and resized (bilinear)
        # to each input, as PVT; regions pad odd grids inside the blocks.
        img_size=256,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        with_cp=False,
        frozen_stages=-1,
        norm_eval=False,
        # ImageNet weights: dict(type='Pretrained', checkpoint=...,
        # prefix='backbone.') (convert with tools/model_converters).
        init_cfg=None),
    # DGE-PVT stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 320, 512]))

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
