# ISPRS Vaihingen, protocol of the remote-sensing papers: 5 classes, clutter
# ignored (mapped to 255 through the metainfo), reporting OA, mF1 and mIoU.
# Same patches as vaihingen.py; heads need num_classes=5.
_base_ = './vaihingen.py'

classes = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car')
train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='sparse_backbones.ISPRSMetric')
test_evaluator = val_evaluator
