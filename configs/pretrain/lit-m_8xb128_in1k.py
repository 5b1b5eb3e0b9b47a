# LIT-M ImageNet-1K pretraining: lit-s_8xb128_in1k.py's recipe with drop
# path 0.3 (configs/lit-medium.yaml).
#
# Paper top-1: 83.0 on ImageNet-1K val (LIT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lit-m_8xb128_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lit-m \
#       configs/pretrain/lit-m_8xb128_in1k.py work_dirs/lit-m_8xb128_in1k
_base_ = ['./lit-s_8xb128_in1k.py']

model = dict(backbone=dict(arch='m', drop_path_rate=0.3))
