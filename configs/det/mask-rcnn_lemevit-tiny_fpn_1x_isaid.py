# Mask R-CNN + FPN with a LeMeViT-tiny backbone on iSAID (800x800 patches,
# overlap 200, 15 categories), 1x AdamW schedule, 8 GPUs x 2 images:
# mask-rcnn_lemevit-tiny_fpn_1x_dota.py's model on another dataset base file.
# COCO bbox and segm AP on the val patches. The model base's 15 classes are
# the real categories: sparse_backbones.ISAIDDataset leaves out mmdet's dummy
# 'background' class, which has no annotation.
_base_ = [
    '../_base_/models/mask_rcnn.py',
    '../_base_/datasets/isaid.py',
    '../_base_/schedules/det_adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    # Backbone defaults otherwise (see mask-rcnn_lemevit-tiny_fpn_1x_dota.py).
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1),
    # LeMeViT-tiny stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 192, 320]))
