# Mask R-CNN + FPN (mmdet's R-50 recipe) for the 15 object classes of
# DOTA-v1.0 and iSAID. Task configs replace the backbone (_delete_=True) and
# set the neck's in_channels to the backbone's stage widths.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
custom_imports = dict(imports=['sparse_backbones'], allow_failed_imports=False)

model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=15), mask_head=dict(num_classes=15)),
    # Dense scenes (harbours, parking lots) hold far more than mmdet's
    # default of 100 objects per patch.
    test_cfg=dict(rcnn=dict(max_per_img=300)))
