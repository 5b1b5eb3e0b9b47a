# LIT-Ti ImageNet-1K pretraining, the official recipe of its DeiT-based
# code (specs/lit.md section 4; code_for_lit_ti: config/lit-ti.json,
# params.py, main.py): 8 GPUs x 128, 300 epochs, 5 warm-up epochs from
# 1e-6, cosine to 1e-5, repeated augmentation, AMP, no EMA, no gradient
# clipping; DTM offsets at 0.01x the lr.
#
# Paper top-1: 81.1 on ImageNet-1K val (LIT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lit-ti_8xb128_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lit-ti \
#       configs/pretrain/lit-ti_8xb128_in1k.py work_dirs/lit-ti_8xb128_in1k
_base_ = [
    '../_base_/models/classifier_in1k.py',
    '../_base_/datasets/imagenet_rand-aug_224.py',
    '../_base_/schedules/imagenet_adamw_cosine_300e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LIT',
        arch='ti',
        drop_path_rate=0.1,
        # (B, 512) class token after the final norm, so no neck.
        out_type='avg_featmap'),
    head=dict(in_channels=512))

train_dataloader = dict(batch_size=128, sampler=dict(type='RepeatAugSampler'))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            # The official no_weight_decay() names the class token only:
            # the position embeddings are decayed.
            'cls_token': dict(decay_mult=0.),
            # dconv_lr_ratio 0.01 on the offset weights (decayed); the
            # offset biases stay at the full lr without decay, as there.
            'conv_offset.weight': dict(lr_mult=0.01),
        }))
