# mmpretrain's runtime for the 100-epoch classification schedules: a
# checkpoint every 10 epochs, the last 3 kept.
_base_ = 'mmpretrain::_base_/default_runtime.py'

default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
