# DOTA-v1.5: the images of v1.0 with 16 classes (+ container-crane) and
# very small instances annotated. Task configs inheriting this file set
# num_classes = 16 in the bbox and mask heads. Split with
#   tools/dataset_converters/dota.py ... --version 1.5 \
#       --label-folder labelTxt-v1.5
# into data/split_ss_dota1_5/{trainval,val,test}.
_base_ = './dota.py'

dataset_type = 'sparse_backbones.DOTAv15Dataset'
data_root = 'data/split_ss_dota1_5/'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
submission_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
