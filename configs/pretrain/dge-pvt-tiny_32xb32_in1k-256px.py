# DGE-PVT-tiny ImageNet-1K pretraining at 256x256, budget 0.5:
# dge-deit-tiny_32xb32_in1k-256px.py's recipe (vtpack's
# pvt_dge_s124_b0_5_256_tiny_mm4.sh differs only in the model). Not
# verified: the GPU count (see the DeiT config).
#
# Paper top-1: not published (vtpack released no PVT models; the paper's
# PVT table is not in specs/dge.md).
# Wall time per epoch: not measured (no GPU was available to this project).
#
# On 8 GPUs:
#
#   tools/dist_train.sh \
#       configs/pretrain/dge-pvt-tiny_32xb32_in1k-256px.py 8 \
#       --cfg-options train_dataloader.batch_size=128
#   GPUS=32 tools/slurm_train.sh PARTITION dge-pvt-tiny \
#       configs/pretrain/dge-pvt-tiny_32xb32_in1k-256px.py \
#       work_dirs/dge-pvt-tiny_32xb32_in1k-256px
_base_ = ['./dge-deit-tiny_32xb32_in1k-256px.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='sparse_backbones.DGEPVT',
        arch='tiny',
        drop_path_rate=0.1,
        # (B, 512) class token of the last stage after the final norm.
        out_type='cls_token'),
    head=dict(in_channels=512))

# vtpack's PVT no_weight_decay() names the class token only: its position
# embeddings are decayed ("has pos_embed may be better" is commented out).
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys=dict(_delete_=True, cls_token=dict(decay_mult=0.))))
