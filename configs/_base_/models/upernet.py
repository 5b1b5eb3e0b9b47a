# UperNet + auxiliary FCN head (on stage 3, stride 16) for 512x512 crops with
# sliding-window test (stride 384), as the LeMeViT / RS-paper recipe, for
# the 6 ISPRS classes. Task configs set the backbone and, where its widths
# are not the base's Swin-T ones ([96, 192, 384, 768]), the heads'
# in_channels.
_base_ = 'mmseg::_base_/models/upernet_swin.py'
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

model = dict(
    # SegDataPreProcessor pads every image to the crop size.
    data_preprocessor=dict(size=(512, 512)),
    # Heads keep the base's SyncBN: mmengine's Runner turns it into BN when
    # training is not distributed (single GPU or CPU).
    # Both heads keep the base's cross-entropy (weights 1.0 and 0.4, the
    # auxiliary head on in_index=2), averaged over non-ignored pixels.
    decode_head=dict(num_classes=6, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(num_classes=6, loss_decode=dict(avg_non_ignore=True)),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(384, 384)))
