# classifier.py for ImageNet-1K pretraining: 1000 classes and the batch
# augments of the DeiT/timm recipe, Mixup (alpha 0.8) or CutMix (alpha 1.0),
# one of the two on every batch (timm: mixup prob 1, switch prob 0.5). The
# head's label smoothing 0.1 then applies to the mixed targets, as timm's
# Mixup smooths them.
_base_ = './classifier.py'

model = dict(
    head=dict(num_classes=1000),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]))
