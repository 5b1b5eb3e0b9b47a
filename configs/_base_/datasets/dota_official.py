# DOTA-v1.0 patches as dota.py, scored as the official devkit does: patch
# detections shifted back and merged per full image (class-wise NMS), then
# VOC07 11-point AP at IoU 0.5 against the original labels of the full val
# images, difficult objects ignored: Task2 (horizontal boxes) and Task1
# (oriented boxes: minimum-area rectangle of each predicted mask).
#   data/DOTA/val/labelTxt/P0003.txt ...   (original val labels)
# The val patches keep the names of tools/dataset_converters/dota.py
# (P0003__1024__824___0.png), from which the offsets are read back.
_base_ = './dota.py'

val_evaluator = dict(
    _delete_=True,
    type='sparse_backbones.DOTAMetric',
    # DOTAMetric's defaults otherwise: tasks=('task1', 'task2'),
    # iou_thr=0.5, merge_iou_thr=0.3.
    ann_dir='data/DOTA/val/labelTxt/')
test_evaluator = val_evaluator
