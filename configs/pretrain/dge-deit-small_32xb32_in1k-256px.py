# DGE-DeiT-small ImageNet-1K pretraining at 256x256, budget 0.5:
# dge-deit-tiny_32xb32_in1k-256px.py's recipe (vtpack's
# deit_dge_s124_b0_5_small_mm4.sh differs only in the model). Not
# verified: the GPU count (see the tiny config).
#
# Paper top-1: 80.1 on ImageNet-1K val (vtpack README, 256 px, budget 0.5).
# Wall time per epoch: not measured (no GPU was available to this project).
#
# On 8 GPUs:
#
#   tools/dist_train.sh \
#       configs/pretrain/dge-deit-small_32xb32_in1k-256px.py 8 \
#       --cfg-options train_dataloader.batch_size=128
#   GPUS=32 tools/slurm_train.sh PARTITION dge-deit-small \
#       configs/pretrain/dge-deit-small_32xb32_in1k-256px.py \
#       work_dirs/dge-deit-small_32xb32_in1k-256px
_base_ = ['./dge-deit-tiny_32xb32_in1k-256px.py']

model = dict(backbone=dict(arch='small'), head=dict(in_channels=384))
