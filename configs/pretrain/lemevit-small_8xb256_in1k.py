# LeMeViT-small ImageNet-1K pretraining: lemevit-tiny_8xb256_in1k.py's
# recipe (one yaml for every size; drop path 0.15 and 8 x 256 for small
# are not verified).
#
# Paper top-1: 81.88 on ImageNet-1K val (LeMeViT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lemevit-small_8xb256_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lemevit-small \
#       configs/pretrain/lemevit-small_8xb256_in1k.py \
#       work_dirs/lemevit-small_8xb256_in1k
_base_ = ['./lemevit-tiny_8xb256_in1k.py']

model = dict(backbone=dict(arch='small'), head=dict(in_channels=384))
