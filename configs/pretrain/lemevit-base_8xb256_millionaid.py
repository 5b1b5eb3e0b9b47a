# LeMeViT-base MillionAID scene pretraining (51 classes):
# lemevit-tiny_8xb256_millionaid.py's recipe (one yaml for every size;
# scripts/train.sh names tiny, so 8 x 256 and drop path 0.15 for base are
# not verified).
#
# Paper top-1: 99.17 on MillionAID val (LeMeViT README; their split).
# Wall time per epoch: not measured.
#
#   tools/dist_train.sh configs/pretrain/lemevit-base_8xb256_millionaid.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lemevit-base-millionaid \
#       configs/pretrain/lemevit-base_8xb256_millionaid.py \
#       work_dirs/lemevit-base_8xb256_millionaid
_base_ = ['./lemevit-tiny_8xb256_millionaid.py']

model = dict(backbone=dict(arch='base'), head=dict(in_channels=512))
