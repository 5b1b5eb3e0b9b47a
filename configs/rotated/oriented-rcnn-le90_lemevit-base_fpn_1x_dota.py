# Oriented R-CNN + FPN, LeMeViT-base, DOTA-v1.0 (paper: 78.00 mAP). The tiny
# recipe with the base model's lr 5e-5 and batch 2 GPUs x 2 images.
_base_ = './oriented-rcnn-le90_lemevit-tiny_fpn_1x_dota.py'

model = dict(
    backbone=dict(arch='base'),
    # LeMeViT-base stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[96, 192, 384, 512]))
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(optimizer=dict(lr=5e-5))
auto_scale_lr = dict(base_batch_size=4)
