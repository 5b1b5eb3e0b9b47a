# 80k-iteration segmentation schedule with AdamW (LeMeViT UperNet on
# Potsdam, specs/lemevit.md section 5.2): lr 4e-4, weight decay 0.05,
# 1500-iteration linear warm-up from 1e-6, then poly (power 1) to 0.
# LeMeViT trained with a total batch of 40 (4 GPUs x 10); the mmseg Swin
# recipe uses lr 6e-5 with weight decay 0.01 at batch 16 instead.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    # No decay on norms, biases and LeMeViT's learnable meta tokens.
    paramwise_cfg=dict(
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        custom_keys={'meta_tokens': dict(decay_mult=0.)}))

param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        by_epoch=False,
        begin=1500,
        end=80000)
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(_scope_='mmseg', type='SegVisualizationHook'))
