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
    # BudgetLoss at its defaults: budget 0.5 (fraction of the static FLOPs
    # kept), weight 1.
    aux_losses=dict(loss_budget=dict(type='BudgetLoss')),
    # Backbone defaults otherwise: all four stages out, nothing frozen, no
    # checkpointing, random weights; position embeddings made for 256 px
    # (img_size) and resized (bilinear) to each input, as PVT; regions pad
    # odd grids inside the blocks. ImageNet weights: init_cfg=dict(
    # type='Pretrained', checkpoint=..., prefix='backbone.') (convert with
    # tools/model_converters).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        drop_path_rate=0.1),
    # DGE-PVT stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 320, 512]))

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
