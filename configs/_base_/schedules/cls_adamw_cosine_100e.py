# 100-epoch fine-tuning schedule with AdamW and cosine decay (LeMeViT's
# recipe, specs/lemevit.md section 4): lr 5e-4 x total_batch / 512 (here
# 5e-4 for 8 GPUs x 64), weight decay 0.05, 5 warm-up epochs.
# `--auto-scale-lr` rescales the LR to the actual total batch.
optim_wrapper = dict(
    optimizer=dict(
        type='AdamW',
        lr=5e-4 * 512 / 512,
        weight_decay=0.05,
        eps=1e-8,
        betas=(0.9, 0.999)),
    # No decay on norms, biases and LeMeViT's learnable meta tokens.
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'meta_tokens': dict(decay_mult=0.)}))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=5,
        # update the LR every iteration during warm-up
        convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5)
]

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=512)
