# imagenet_rand-aug_224.py at 256x256 (DGE: 16x16 patches = 4x4 regions of
# 4x4), from mmpretrain's 256 px swin base: RandomResizedCrop 256; test:
# bicubic resize 292 (256 / 0.875), centre crop 256. Same augmentation and
# data layout as the 224 px file.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_256.py'

train_dataloader = dict(
    persistent_workers=True,
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
