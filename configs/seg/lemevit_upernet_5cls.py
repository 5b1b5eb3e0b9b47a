# The 5-class Potsdam protocol of RSP / RVSA / LeMeViT: clutter is ignored
# (mapped to 255 through the dataset metainfo), metrics OA (aAcc) and mF1
# (mFscore) over the 5 remaining classes. Same data as lemevit_upernet.py:
# mmseg's converter output with reduce_zero_label=True.
_base_ = './lemevit_upernet.py'

classes = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car')
train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader

model = dict(
    decode_head=dict(num_classes=len(classes)),
    auxiliary_head=dict(num_classes=len(classes)))
