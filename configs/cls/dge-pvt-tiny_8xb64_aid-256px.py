# DGE-PVT-tiny scene classification on AID (30 classes, 20 % train split),
# 256x256 input (the reference's _256 models), budget 0.5 (budget loss
# lambda (flops_ratio - 0.5)^2, lambda 1), 8 GPUs x 64. Pipelines, optimizer
# and hooks as dge-deit-tiny_8xb64_aid-256px.py (256 px position embeddings
# are the backbone's default).
_base_ = ['./dge-deit-tiny_8xb64_aid-256px.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        drop_path_rate=0.1,
        # (B, 512) class token of the last stage after the final norm.
        out_type='cls_token'),
    head=dict(in_channels=512))
