# DGE-PVT-small ImageNet-1K pretraining at 256x256, budget 0.5:
# dge-pvt-tiny_32xb32_in1k-256px.py's recipe. Not verified: the GPU count
# (see the DeiT config).
#
# Paper top-1: not published (vtpack released no PVT models; the paper's
# PVT table is not in specs/dge.md).
# Wall time per epoch: not measured (no GPU was available to this project).
#
# On 8 GPUs:
#
#   tools/dist_train.sh \
#       configs/pretrain/dge-pvt-small_32xb32_in1k-256px.py 8 \
#       --cfg-options train_dataloader.batch_size=128
#   GPUS=32 tools/slurm_train.sh PARTITION dge-pvt-small \
#       configs/pretrain/dge-pvt-small_32xb32_in1k-256px.py \
#       work_dirs/dge-pvt-small_32xb32_in1k-256px
_base_ = ['./dge-pvt-tiny_32xb32_in1k-256px.py']

model = dict(backbone=dict(arch='small'))
