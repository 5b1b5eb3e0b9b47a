# DOTA-v1.0, multi-scale patches: images rescaled by 0.5, 1.0 and 1.5 and
# cut into 1024x1024 windows with a 500-pixel overlap, written by
#   tools/dataset_converters/dota.py ... --multi-scale
# into data/split_ms_dota/{trainval,val,test} (P0000__0.5__1024__0___0.png
# for the rescaled ones). DOTAMetric (dota_official.py, --format-only)
# maps every scale back to the full image before merging.
_base_ = './dota.py'

data_root = 'data/split_ms_dota/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
submission_dataloader = dict(dataset=dict(data_root=data_root))
