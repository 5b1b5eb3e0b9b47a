# LTM-ViT-S (DeiT-S host, patch 16, cls token) scene classification on AID
# (30 classes, 20 % train split), 224x224 input, 8 GPUs x 64 images.
#
# Keep ratio 0.55: the MLP of every block sees round(0.55 * 196) = 108
# merged patch tokens plus the cls token, 3.57 G MACs at 224 with the mask
# modules (host DeiT-S: 4.61 G; the paper's LTM-ViT-S: 3.7 G). The
# backbone's default, 0.75, gives 4.19 G.
# configs/cls/ltm-swin-tiny_8xb64_aid.py shows the optional IB training term.
_base_ = [
    '../_base_/models/classifier.py',
    '../_base_/datasets/aid.py',
    '../_base_/schedules/cls_adamw_cosine_100e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LTMViT',
        arch='small',
        keep_ratios=0.55,
        drop_path_rate=0.1,
        # (B, 384) class token after the final norm, so no neck.
        out_type='cls_token'),
    # Random weights (init_cfg=None, the default). mmpretrain
    # VisionTransformer weights (deit-small) initialise every host part;
    # only the mask modules (merge.*) start fresh:
    # model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...,
    # prefix='backbone.').
    head=dict(num_classes=30, in_channels=384))
