# LeMeViT-tiny MillionAID scene pretraining (51 classes), the official
# recipe (specs/lemevit.md section 4; configs/lemevit_scene_recognition.yaml,
# scripts/train.sh of ViTAE-Transformer/LeMeViT): 8 GPUs x 256, 100 epochs,
# no warm-up, cosine to 1e-5 per 512 images, weight decay 2e-5 (the yaml
# names weight_decay twice, the later value holds), AMP, EMA 0.996.
#
# Paper top-1: 98.80 on MillionAID val (LeMeViT README; their split).
# Wall time per epoch: not measured.
#
#   tools/dist_train.sh configs/pretrain/lemevit-tiny_8xb256_millionaid.py 8
#   GPUS=8 tools/slurm_train.sh PARTITION lemevit-tiny-millionaid \
#       configs/pretrain/lemevit-tiny_8xb256_millionaid.py \
#       work_dirs/lemevit-tiny_8xb256_millionaid
#
# Data: tools/dataset_converters/millionaid.py (see the dataset base). The
# official train/val lists were never published: the converter draws their
# protocol (1,000 validation images per class) with its own seed, so the
# top-1 is measured on other images than the paper's.
# As the ImageNet config: repeated augmentation off (the yaml's
# repeated_aug is read by nothing) and the meta tokens decayed.
_base_ = [
    '../_base_/models/classifier_in1k.py',
    '../_base_/datasets/millionaid_rand-aug_224.py',
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
    head=dict(num_classes=51, in_channels=320))

train_dataloader = dict(batch_size=256)

optim_wrapper = dict(optimizer=dict(lr=5e-4 * 2048 / 512, weight_decay=2e-5))
# No warm-up; the floor scales with the batch as the lr does (main.py's
# auto_scale_warmup_min_lr): 1e-5 at 512, 4e-5 at 2048.
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-5 / 5e-4, by_epoch=True)
]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=2048)

# timm's ModelEmaV2 (decay 0.996 per step) averages buffers too (the BNs').
custom_hooks = [
    dict(
        type='EMAHook',
        momentum=1 - 0.996,
        update_buffers=True,
        priority='ABOVE_NORMAL')
]
