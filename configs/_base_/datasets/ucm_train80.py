# UC Merced Land Use (21 classes, 100 TIFF images of ~256x256 per class),
# 80 % of each class for training, 20 % for testing (seed 0).
# Prepare (the download stays untouched):
#   python tools/dataset_converters/aid.py ucm /path/to/UCMerced_LandUse \
#       --out-dir data/UCMerced_LandUse
# The AID pipelines (224 px crops) and evaluator, with UCM's folder and
# class list.
_base_ = './aid.py'

dataset_type = 'sparse_backbones.UCMercedDataset'
data_root = 'data/UCMerced_LandUse'
num_classes = 21
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/train_80_seed0.txt'))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/test_20_seed0.txt'))
test_dataloader = val_dataloader
