# LIT-S ImageNet-1K pretraining, the official recipe of its Swin-based code
# (specs/lit.md section 4; code_for_lit_s_m_b: config.py,
# configs/lit-small.yaml, main.py, optimizer.py): 8 GPUs x 128, 300 epochs,
# 20 warm-up epochs, gradient clipping at 5, AMP (apex O1), no repeated
# augmentation, no EMA; DTM offsets at 0.01x the lr.
#
# Paper top-1: 81.5 on ImageNet-1K val (LIT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lit-s_8xb128_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lit-s \
#       configs/pretrain/lit-s_8xb128_in1k.py work_dirs/lit-s_8xb128_in1k
_base_ = [
    '../_base_/models/classifier_in1k.py',
    '../_base_/datasets/imagenet_rand-aug_224.py',
    '../_base_/schedules/imagenet_adamw_cosine_300e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LIT',
        arch='s',
        drop_path_rate=0.2,
        # (B, 768) normalised tokens, averaged, so no neck.
        out_type='avg_featmap'),
    head=dict(in_channels=768))

train_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        custom_keys={
            # no_weight_decay_keywords() of the official model
            'relative_position_bias_table': dict(decay_mult=0.),
            # OFFSET_LR_MULTI 0.01 on the offset weights (decayed); the
            # offset biases stay at the full lr without decay, as there.
            'conv_offset.weight': dict(lr_mult=0.01),
        }))
# Swin's main.py scales warm-up start (5e-7) and floor (5e-6) with the
# batch like the lr, so both are ratios of it.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=5e-7 / 5e-4,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=5e-6 / 5e-4,
        by_epoch=True,
        begin=20),
]
