# ISPRS Potsdam, mmseg protocol: 6 classes incl. clutter, mIoU.
# 512x512 patches with index labels (0 = eroded boundary,
# reduce_zero_label=True), from the official zips (left untouched):
#   python tools/dataset_converters/isprs.py potsdam /path/to/potsdam \
#       --out-dir data/potsdam   (2_Ortho_RGB.zip, 5_Labels_all_noBoundary.zip)
#   data/potsdam/img_dir/{train,val}/*.png, data/potsdam/ann_dir/{train,val}
# (mmseg's own converter writes the same patches.) potsdam_5cls.py is the
# 5-class protocol of the remote-sensing papers.
# mmseg's dataset config with two changes: the dataset class checks the
# layout (clear errors for missing folders or colour labels), and the
# metrics add mFscore next to mIoU (aAcc is the overall accuracy OA).
_base_ = 'mmseg::_base_/datasets/potsdam.py'

dataset_type = 'sparse_backbones.ISPRSPotsdamDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader

val_evaluator = dict(iou_metrics=['mIoU', 'mFscore'])  # mmseg's IoUMetric
test_evaluator = val_evaluator
