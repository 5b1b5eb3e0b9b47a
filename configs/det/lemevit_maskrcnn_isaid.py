# Mask R-CNN + FPN with a LeMeViT-tiny backbone on iSAID (800x800 patches,
# overlap 200, 15 categories), 1x AdamW schedule, 8 GPUs x 2 images:
# lemevit_maskrcnn.py's model on another dataset base file. COCO bbox and
# segm AP on the val patches. The model base's 15 classes are the real
# categories: sparse_backbones.ISAIDDataset leaves out mmdet's dummy
# 'background' class, which has no annotation.
_base_ = [
    '../_base_/models/mask_rcnn.py',
    '../_base_/datasets/isaid.py',
    '../_base_/schedules/det_adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        with_cp=False,
        frozen_stages=-1,
        norm_eval=False,
        # ImageNet weights: dict(type='Pretrained', checkpoint=...,
        # prefix='backbone.') (convert with tools/model_converters).
        init_cfg=None),
    # LeMeViT-tiny stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[64, 128, 192, 320]))
