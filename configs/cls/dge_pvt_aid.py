# DGE-PVT-tiny scene classification on AID (30 classes, 20 % train split),
# 256x256 input (the reference's _256 models), budget 0.5 (budget loss
# lambda (flops_ratio - 0.5)^2, lambda 1), 8 GPUs x 64. Pipelines, optimizer
# and hooks as dge_deit_aid.py.
_base_ = ['./dge_deit_aid.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        img_size=256,
        drop_path_rate=0.1,
        # (B, 512) class token of the last stage after the final norm.
        out_type='cls_token',
        init_cfg=None),
    head=dict(in_channels=512))
