# MillionAID scene classification (51 leaf classes) with the ImageNet
# pretraining pipelines of imagenet_rand-aug_224.py (inherited): the data
# of RSP's and LeMeViT's remote-sensing pretraining.
#
# Prepare (the unpacked tree stays untouched):
#   python tools/dataset_converters/millionaid.py /path/to/MillionAID/train \
#       --out-dir data/millionaid
# which writes data/millionaid/images -> the tree and data/millionaid/meta/
# {train,val}.txt ('agriculture_land/arable_land/dry_field/P0960374.jpg 0').
# Its default is RSP's protocol (1,000 validation images per class, the
# rest for training) drawn with seed 0: RSP's and LeMeViT's own lists were
# never published. The public train archive (10,000 labelled images) is too
# small for it; add --val-percent 10 there.
_base_ = './imagenet_rand-aug_224.py'

dataset_type = 'sparse_backbones.MillionAIDDataset'
data_root = 'data/millionaid'

data_preprocessor = dict(num_classes=51)

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='images',
        ann_file='meta/train.txt'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='images',
        ann_file='meta/val.txt'))
# The held-out part of the split is the test set too.
test_dataloader = val_dataloader
