# LeMeViT-tiny scene classification on NWPU-RESISC45 (45 classes, 20 % train
# split), 224x224 input, 8 GPUs x 64 images: lemevit-tiny_8xb64_aid.py's
# recipe with
# another dataset base file (nwpu_train10.py for the 10 % protocol); the
# head's class count follows the dataset.
_base_ = [
    '../_base_/models/classifier.py',
    '../_base_/datasets/nwpu_train20.py',
    '../_base_/schedules/cls_adamw_cosine_100e.py',
    '../_base_/cls_runtime.py',
]
model = dict(
    backbone=dict(
        type='sparse_backbones.LeMeViT',
        arch='tiny',
        drop_path_rate=0.1,
        # (B, 320) pre-logits of the model's own classifier, so no neck.
        out_type='avg_featmap'),
    # Random weights; ImageNet weights as lemevit-tiny_8xb64_aid.py says.
    head=dict(num_classes=45, in_channels=320))
