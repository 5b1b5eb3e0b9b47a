# NWPU-RESISC45 scene classification (45 classes, 700 images of 256x256 per
# class), 20 % of each class for training, 80 % for testing (seed 0).
# Prepare (the download stays untouched):
#   python tools/dataset_converters/aid.py nwpu /path/to/NWPU-RESISC45 \
#       --out-dir data/NWPU-RESISC45
# The AID pipelines (224 px crops), split files (train_20_seed0 /
# test_80_seed0) and evaluator, with NWPU's folder and class list.
_base_ = './aid.py'

dataset_type = 'sparse_backbones.NWPURESISC45Dataset'
data_root = 'data/NWPU-RESISC45'
num_classes = 45
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
