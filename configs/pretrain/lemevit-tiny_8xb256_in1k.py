# LeMeViT-tiny ImageNet-1K pretraining, the official recipe
# (specs/lemevit.md section 4; configs/lemevit.yaml, scripts/train.sh of
# ViTAE-Transformer/LeMeViT): 8 GPUs x 256, 300 epochs (cosine over 280,
# then 20 cool-down epochs at the floor), AMP, EMA 0.996.
#
# Paper top-1: 79.07 on ImageNet-1K val (LeMeViT README).
# Wall time per epoch: not measured (no GPU was available to this project).
#
#   tools/dist_train.sh configs/pretrain/lemevit-tiny_8xb256_in1k.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lemevit-tiny \
#       configs/pretrain/lemevit-tiny_8xb256_in1k.py \
#       work_dirs/lemevit-tiny_8xb256_in1k
#
# Not as specs/lemevit.md says: repeated augmentation is off. The yaml's
# `repeated_aug: true` is read by nothing; timm's flag, aug_repeats, is 0.
# The meta tokens keep their weight decay, as in the official run (its
# no_weight_decay() names no parameter, specs/lemevit.md section 6).
_base_ = [
    '../_base_/models/classifier_in1k.py',
    '../_base_/datasets/imagenet_rand-aug_224.py',
    '../_base_/schedules/imagenet_adamw_cosine_300e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.15,
        # (B, 320) pre-logits of the official classifier, so no neck.
        out_type='avg_featmap'),
    head=dict(in_channels=320))

train_dataloader = dict(batch_size=256)

optim_wrapper = dict(optimizer=dict(lr=5e-4 * 2048 / 512))
# The official main.py scales warm-up start and floor with the batch too
# (auto_scale_warmup_min_lr), so both are ratios of the lr: 1e-6 and 5e-6
# at 512, 4e-6 and 2e-5 at 2048.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-4,
        by_epoch=True,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=5e-6 / 5e-4,
        by_epoch=True,
        begin=5,
        end=280),
]
auto_scale_lr = dict(base_batch_size=2048)

# timm's ModelEmaV2 (decay 0.996 per step) averages buffers too (the BNs').
custom_hooks = [
    dict(
        type='EMAHook',
        momentum=1 - 0.996,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
