# The 5-class Potsdam protocol of RSP / RVSA / LeMeViT: clutter is ignored
# (mapped to 255 through the dataset metainfo), metrics OA, mF1 and mIoU
# over the 5 remaining classes (sparse_backbones.ISPRSMetric). Same data as
# lemevit_upernet.py: mmseg's converter output with reduce_zero_label=True.
_base_ = './lemevit_upernet.py'

classes = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car')
train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='sparse_backbones.ISPRSMetric')
test_evaluator = val_evaluator

model = dict(
    decode_head=dict(num_classes=len(classes)),
    auxiliary_head=dict(num_classes=len(classes)))
