# Oriented R-CNN + FPN with a LIT-S backbone on DOTA-v1.0, with the LeMeViT
# paper's recipe (no oriented result is published for LIT).
_base_ = './oriented-rcnn-le90_lemevit-tiny_fpn_1x_dota.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.LIT',
        arch='s',
        # Bias tables built for 800 px, as the official detection code: a
        # 224 px checkpoint's tables are resized to them at load.
        bias_table_img_size=800,
        drop_path_rate=0.2,
        norm_eval=True,
        # Global attention over a 64x64 stride-16 map is memory heavy:
        # checkpoint the blocks, as the official LIT-S detection configs do.
        with_cp=True),
    # LIT-S stage widths at strides 4/8/16/32.
    neck=dict(in_channels=[96, 192, 384, 768]))
# DTM offsets train at 0.01x the lr (specs/lit.md section 2.3).
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'conv_offset.weight': dict(lr_mult=0.01),
            'conv_offset.bias': dict(lr_mult=0.01),
        }))
