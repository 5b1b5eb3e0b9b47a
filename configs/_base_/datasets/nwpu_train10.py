# NWPU-RESISC45, 10 % of each class for training, 90 % for testing (seed 0).
_base_ = './nwpu_train20.py'

train_dataloader = dict(dataset=dict(ann_file='splits/train_10_seed0.txt'))
val_dataloader = dict(dataset=dict(ann_file='splits/test_90_seed0.txt'))
test_dataloader = val_dataloader
