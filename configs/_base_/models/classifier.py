# An mmpretrain classifier on a backbone's pre-logits: the backbone returns
# (B, C) (out_type 'avg_featmap' or 'cls_token'), so there is no neck; one
# linear head, label smoothing 0.1. Task configs set model.backbone and the
# head's in_channels (the backbone's width) and num_classes (the dataset's).
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

model = dict(
    # mmpretrain types, unscoped: the whole model builds in mmpretrain's
    # scope, also where this file is inherited as
    # `sparse_backbones::` (configs/README.md).
    _scope_='mmpretrain',
    type='ImageClassifier',
    neck=None,
    head=dict(
        type='LinearClsHead',
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')))
