# Mask R-CNN + FPN with a LeMeViT-tiny backbone on DOTA-v1.0 patches
# (1024x1024, horizontal boxes + polygon masks, 15 classes), 1x AdamW
# schedule, 8 GPUs x 2 images. Evaluation: VOC07 11-point mAP at IoU 0.5 per
# patch, difficult objects ignored. lemevit_maskrcnn.py, the documented entry
# point, inherits this file.
_base_ = [
    '../_base_/models/mask_rcnn.py',
    '../_base_/datasets/dota.py',
    '../_base_/schedules/det_adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    # The backbone's defaults: all four stages out, nothing frozen, no
    # checkpointing, random weights. ImageNet weights: init_cfg=dict(
    # type='Pretrained', checkpoint=..., prefix='backbone.') (convert with
    # tools/model_converters).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1),
    # LeMeViT-tiny stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 192, 320]))
