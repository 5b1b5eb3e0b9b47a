# ImageNet-1K with the DeiT/timm training augmentation of the four designs,
# as mmpretrain's swin base (inherited) writes it: bicubic
# RandomResizedCrop 224 + flip, RandAugment rand-m9-mstd0.5-inc1
# (policies 'timm_increasing', 2 ops, magnitude 9 of 10, std 0.5),
# RandomErasing 0.25 (mode 'rand' = timm's 'pixel'); test: bicubic resize
# 256, centre crop 224. The official color jitter 0.4 is not applied: timm
# drops it when RandAugment is on. Mixup/CutMix are batch augments of the
# model (models/classifier_in1k.py).
#
# Data: the ImageFolder layout the official repositories read,
#   data/imagenet/train/<wnid>/*.JPEG  data/imagenet/val/<wnid>/*.JPEG
# With mmpretrain's list files instead, add ann_file='meta/train.txt'
# (and 'meta/val.txt' for val).
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

train_dataloader = dict(
    persistent_workers=True,
    # Folders, not mmpretrain's `split`, which only ImageNet takes (--demo
    # swaps in its own dataset type).
    dataset=dict(
        _delete_=True,
        _scope_='mmpretrain',
        type='ImageNet',
        data_root='data/imagenet',
        data_prefix='train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        _scope_='mmpretrain',
        type='ImageNet',
        data_root='data/imagenet',
        data_prefix='val',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
