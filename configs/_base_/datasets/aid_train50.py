# AID, 50 % of each class for training, 50 % for testing (seed 0).
_base_ = './aid.py'

train_dataloader = dict(dataset=dict(ann_file='splits/train_50_seed0.txt'))
val_dataloader = dict(dataset=dict(ann_file='splits/test_50_seed0.txt'))
test_dataloader = val_dataloader
