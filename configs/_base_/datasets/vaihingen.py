# ISPRS Vaihingen (IRRG), mmseg protocol: 6 classes incl. clutter, mIoU.
# 512x512 patches with index labels (0 = eroded boundary,
# reduce_zero_label=True), from the official zips (left untouched):
#   python tools/dataset_converters/isprs.py vaihingen /path/to/vaihingen \
#       --out-dir data/vaihingen   (ISPRS_semantic_labeling_Vaihingen.zip,
#       ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip)
#   data/vaihingen/img_dir/{train,val}/area1_0_0_512_512.png, ann_dir/...
# mmseg's dataset config with the layout-checking dataset class and mFscore
# next to mIoU (aAcc is OA). vaihingen_5cls.py: the 5-class protocol.
_base_ = 'mmseg::_base_/datasets/vaihingen.py'

dataset_type = 'sparse_backbones.ISPRSVaihingenDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader

val_evaluator = dict(iou_metrics=['mIoU', 'mFscore'])  # mmseg's IoUMetric
test_evaluator = val_evaluator
