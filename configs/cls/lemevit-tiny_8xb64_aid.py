# LeMeViT-tiny scene classification on AID (30 classes, 20 % train split),
# 224x224 input, 8 GPUs x 64 images.
_base_ = [
    '../_base_/models/classifier.py',
    '../_base_/datasets/aid.py',
    '../_base_/schedules/cls_adamw_cosine_100e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1,
        # (B, 320) pre-logits of the model's own classifier (BN-pooled map +
        # meta tokens), so no neck.
        out_type='avg_featmap'),
    # Random weights (init_cfg=None, the default). ImageNet weights:
    # model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...,
    # prefix='backbone.') (convert with tools/model_converters).
    head=dict(num_classes=30, in_channels=320))
