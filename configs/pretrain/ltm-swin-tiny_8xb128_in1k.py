# LTM-Swin-T (keep ratio 0.7: 3.77 G MACs, the paper's 3.8 G) ImageNet-1K
# pretraining with LTM's IB term.
#
# Not verified: LTM publishes no Swin-T recipe (specs/ltm.md). This is the
# host's, Swin-T (8 GPUs x 128, lr 1e-3, 300 epochs, 20 warm-up epochs,
# drop path 0.2, gradient clipping at 5, AMP, no repeated augmentation, no
# EMA), with the loss of LTM's released train.py: label-smoothed
# cross-entropy plus 0.1 x the IB term from 30 % of the epochs on
# (LTMIBHook re-fits its 1000 centroids and the class table every epoch).
# That loss needs class indices, so there is no Mixup/CutMix. Without the
# IB term: --cfg-options model.head.ib_loss=None
#
# Paper top-1: 81.8 on ImageNet-1K val (LTM paper, README table).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/ltm-swin-tiny_8xb128_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION ltm-swin-tiny \
#       configs/pretrain/ltm-swin-tiny_8xb128_in1k.py \
#       work_dirs/ltm-swin-tiny_8xb128_in1k
_base_ = [
    '../_base_/models/classifier_in1k.py',
    '../_base_/datasets/imagenet_rand-aug_224.py',
    '../_base_/schedules/imagenet_adamw_cosine_300e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LTMSwin',
        arch='tiny',
        keep_ratios=0.7,
        drop_path_rate=0.2,
        # (B, 768) mean of the last stage's tokens after its norm.
        out_type='avg_featmap'),
    head=dict(
        type='sparse_backbones.LTMIBClsHead',
        in_channels=768,
        # loss_weight 0.1 and 1000 clusters, LTMIBLoss's defaults here
        ib_loss=dict(type='sparse_backbones.LTMIBLoss')),
    train_cfg=None)

train_dataloader = dict(batch_size=128)

optim_wrapper = dict(
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        custom_keys={
            # Swin's no_weight_decay_keywords()
            'relative_position_bias_table': dict(decay_mult=0.),
            # The mask modules' scalars (0-D): timm exempts every
            # parameter of ndim <= 1, flat_decay_mult only ndim == 1.
            'merge.alpha': dict(decay_mult=0.),
            'merge.log_tau': dict(decay_mult=0.),
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

custom_hooks = [dict(type='sparse_backbones.LTMIBHook', start_ratio=0.3)]
