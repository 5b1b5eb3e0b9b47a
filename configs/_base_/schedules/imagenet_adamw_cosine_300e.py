# 300-epoch ImageNet-1K pretraining, the DeiT/timm schedule the designs
# start from, in mixed precision (every official run used AMP):
# - AdamW, lr 5e-4 x total batch / 512, here 1e-3 for 1024; a leaf with
#   another total batch sets both the lr and auto_scale_lr, and
#   `--auto-scale-lr` rescales the lr to the batch actually run;
# - weight decay 0.05, none on norms, biases and other 1-D parameters
#   (timm's rule, which every official optimizer applies); leaves add the
#   parameters their official code names in no_weight_decay();
# - 5 warm-up epochs from 1e-6 (start factor 1e-6 / 1e-3), cosine to 1e-5.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=5e-4 * 1024 / 512,
        weight_decay=0.05,
        eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 1e-3,
        by_epoch=True,
        end=5,
        # update the LR every iteration during warm-up
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=1024)
