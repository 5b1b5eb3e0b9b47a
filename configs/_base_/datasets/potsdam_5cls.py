# ISPRS Potsdam, protocol of the remote-sensing papers (RSP, RVSA, LeMeViT):
# 5 classes, clutter ignored, reporting OA, mF1 and mIoU. Same patches as
# potsdam.py. Dropping 'clutter' from the metainfo makes mmseg map its
# label to 255 (ignored, like the eroded boundaries); heads need
# num_classes=5.
_base_ = './potsdam.py'

classes = ('impervious_surface', 'building', 'low_vegetation', 'tree', 'car')
train_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
val_dataloader = dict(dataset=dict(metainfo=dict(classes=classes)))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='sparse_backbones.ISPRSMetric')
test_evaluator = val_evaluator
