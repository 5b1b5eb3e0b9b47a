# LIT-B ImageNet-1K pretraining: lit-s_8xb128_in1k.py's recipe with drop
# path 0.5 (configs/lit-base.yaml) and gradient checkpointing, as
# scripts/lit-b.sh runs it (--use-checkpoint).
#
# Paper top-1: 83.4 on ImageNet-1K val (LIT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lit-b_8xb128_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lit-b \
#       configs/pretrain/lit-b_8xb128_in1k.py work_dirs/lit-b_8xb128_in1k
_base_ = ['./lit-s_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.5, with_cp=True),
    head=dict(in_channels=1024))
