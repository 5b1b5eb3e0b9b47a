# DGE-DeiT-tiny ImageNet-1K pretraining at 256x256 (16x16 patches = 4x4
# regions of 4x4), budget 0.5 (budget loss (flops_ratio - 0.5)^2, weight 1),
# the vtpack recipe (specs/dge.md section 1.4; configs/dge/*_mm4.sh and the
# DeiT defaults of its main.py): 32 per GPU, 300 epochs, 20 warm-up epochs,
# repeated augmentation, AMP, EMA 0.99996.
#
# Not verified: the GPU count. vtpack gives 32 per GPU only; `_mm4` is read
# as 4 machines x 8 GPUs (its launcher's 8 per node), i.e. DeiT's total
# batch 1024.
#
# Paper top-1: 73.2 on ImageNet-1K val (vtpack README, 256 px, budget 0.5).
# Wall time per epoch: not measured (no GPU was available to this project).
#
# On 8 GPUs keep the total with 128 per GPU:
#
#   tools/dist_train.sh \
#       configs/pretrain/dge-deit-tiny_32xb32_in1k-256px.py 8 \
#       --cfg-options train_dataloader.batch_size=128
#   GPUS=32 tools/slurm_train.sh PARTITION dge-deit-tiny \
#       configs/pretrain/dge-deit-tiny_32xb32_in1k-256px.py \
#       work_dirs/dge-deit-tiny_32xb32_in1k-256px
_base_ = [
    '../_base_/models/classifier_in1k.py',
    '../_base_/datasets/imagenet_rand-aug_256.py',
    '../_base_/schedules/imagenet_adamw_cosine_300e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    # ImageClassifier + the backbone's budget loss and the logged
    # flops_ratio (sparse_backbones/models).
    type='sparse_backbones.DynamicImageClassifier',
    backbone=dict(
        type='sparse_backbones.DGEDeiT',
        arch='tiny',
        drop_path_rate=0.1,
        # (B, 192) class token after the final norm, so no neck.
        out_type='cls_token'),
    head=dict(in_channels=192),
    # BudgetLoss at its defaults: budget 0.5, weight 1 (vtpack's
    # --dge-budget 0.5 --dge-lr-scale 1.0).
    aux_losses=dict(loss_budget=dict(type='sparse_backbones.BudgetLoss')))

train_dataloader = dict(batch_size=32, sampler=dict(type='RepeatAugSampler'))

# Routers train at the base lr with weight decay, as in vtpack; DeiT's
# no_weight_decay(): class token and position embedding.
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        'cls_token': dict(decay_mult=0.),
        'pos_embed': dict(decay_mult=0.)
    }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 1e-3,
        by_epoch=True,
        end=20,
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20),
]

custom_hooks = [
    # timm's ModelEma, decay 0.99996 per step.
    dict(type='EMAHook', momentum=1 - 0.99996, priority='ABOVE_NORMAL'),
    # Mean realised FLOPs ratio in training and validation.
    dict(type='sparse_backbones.FLOPsRatioHook'),
]
