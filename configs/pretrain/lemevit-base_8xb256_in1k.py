# LeMeViT-base ImageNet-1K pretraining: lemevit-tiny_8xb256_in1k.py's
# recipe (one yaml for every size; drop path 0.15 and 8 x 256 for base
# are not verified).
#
# Paper top-1: 84.35 on ImageNet-1K val (LeMeViT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lemevit-base_8xb256_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lemevit-base \
#       configs/pretrain/lemevit-base_8xb256_in1k.py \
#       work_dirs/lemevit-base_8xb256_in1k
_base_ = ['./lemevit-tiny_8xb256_in1k.py']

model = dict(backbone=dict(arch='base'), head=dict(in_channels=512))
