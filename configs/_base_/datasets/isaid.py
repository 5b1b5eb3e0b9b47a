# iSAID instance segmentation: 800x800 patches (overlap 200) of the DOTA-v1.0
# images with COCO-style jsons, as the official devkit cuts them:
#   python tools/dataset_converters/isaid.py /path/to/iSAID \
#       --out-dir data/iSAID
#   data/iSAID/{train,val}/images/P0002_0_800_0_800.png
#   data/iSAID/{train,val}/instancesonly_filtered_{train,val}.json
# mmdet's iSAID dataset config with sparse_backbones.ISAIDDataset: the 15
# real categories with the devkit's names ('storage_tank'; mmdet lists a
# dummy 'background' and spells 'store_tank'), so heads use num_classes=15.
# Metrics: COCO bbox and segm AP. data_root ('data/iSAID/'), the annotation
# files and the evaluator are mmdet's.
_base_ = 'mmdet::_base_/datasets/isaid_instance.py'

dataset_type = 'sparse_backbones.ISAIDDataset'
num_classes = 15
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
