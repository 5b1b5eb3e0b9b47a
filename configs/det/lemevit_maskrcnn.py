# The documented entry point (README, `make demo`): LeMeViT-tiny Mask R-CNN
# on DOTA-v1.0 patches. The recipe lives in the file named in the hosts'
# grammar (configs/README.md); this name stays for the commands that use it.
_base_ = './mask-rcnn_lemevit-tiny_fpn_1x_dota.py'
