# 1x detection schedule with AdamW (LeMeViT, specs/lemevit.md section 5.1):
# 12 epochs, LR steps at epochs 8 and 11, 500-iteration linear warm-up,
# gradient clipping at 35 as in LeMeViT's DOTA schedule. The LR is for a
# total batch of 16 (8 GPUs x 2); `--auto-scale-lr` rescales it.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    # No decay on norms, biases and LeMeViT's learnable meta tokens.
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'meta_tokens': dict(decay_mult=0.)}),
    clip_grad=dict(max_norm=35, norm_type=2))

auto_scale_lr = dict(enable=False, base_batch_size=16)
