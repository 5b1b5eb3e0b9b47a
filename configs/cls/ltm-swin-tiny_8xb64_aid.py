# LTM-Swin-T scene classification on AID (30 classes, 20 % train split),
# 224x224 input, 8 GPUs x 64 images, with LTM's IB training term.
#
# Keep ratio 0.7: the MLP of every 7x7 window sees round(0.7 * 49) = 34
# merged tokens, 3.77 G MACs at 224 with the mask modules (host Swin-T:
# 4.49 G; the paper's LTM-Swin-T: 3.8 G). The backbone's default, 0.75,
# gives 3.94 G.
#
# IB term (specs/ltm.md): the head adds 0.1 * L_IB from 30 % of the epochs
# on; LTMIBHook re-fits the k-means centroids (K = 4 x 30 = 120) and the
# class table once per epoch. To train without it (plain label-smoothed
# cross-entropy) use one option: --cfg-options model.head.ib_loss=None
# (the hook then does nothing).
_base_ = [
    '../_base_/models/classifier.py',
    '../_base_/datasets/aid.py',
    '../_base_/schedules/cls_adamw_cosine_100e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LTMSwin',
        arch='tiny',
        keep_ratios=0.7,
        drop_path_rate=0.2,
        # (B, 768): mean of the last stage's tokens after its norm (Swin's
        # classifier input), so no neck.
        out_type='avg_featmap'),
    # Random weights (init_cfg=None, the default). mmpretrain Swin weights
    # (ImageNet) initialise every host part; only the mask modules (merge.*)
    # start fresh: model.backbone.init_cfg=dict(type='Pretrained',
    # checkpoint=..., prefix='backbone.').
    head=dict(
        type='sparse_backbones.LTMIBClsHead',
        num_classes=30,
        in_channels=768,
        # loss_weight=0.1, LTMIBLoss's default
        ib_loss=dict(type='sparse_backbones.LTMIBLoss')))

custom_hooks = [dict(type='sparse_backbones.LTMIBHook', start_ratio=0.3)]
