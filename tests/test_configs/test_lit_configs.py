# Copyright (c) sparse_backbones contributors. All rights reserved.
"""What the LIT configs promise beyond tests/test_configs/test_configs.py: DTM offsets
at 0.01x the learning rate, gradient checkpointing of LIT-S for dense
tasks, and the official dense tables from a classification checkpoint."""
import importlib
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from tests import REPO_ROOT

CONFIGS = {
    'cls': 'configs/cls/lit-s_8xb64_aid.py',
    'det': 'configs/det/mask-rcnn_lit-s_fpn_1x_dota.py',
    'seg': 'configs/seg/upernet_lit-s_4xb4-80k_potsdam-512x512.py',
}


def load(task):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIGS[task]))
    pytest.importorskip(cfg.default_scope)
    return cfg


@pytest.mark.parametrize('task', sorted(CONFIGS))
def test_offsets_train_at_a_hundredth_of_the_lr(task):
    cfg = load(task)
    host = importlib.import_module(f'{cfg.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = host.MODELS.build(cfg.model)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr = cfg.optim_wrapper.optimizer.lr
    groups = {
        id(p): g
        for g in optim_wrapper.optimizer.param_groups
        for p in g['params']
    }
    checked = 0
    for name, param in model.backbone.named_parameters():
        group = groups[id(param)]
        if '.conv_offset.' in name:
            assert group['lr'] == pytest.approx(0.01 * base_lr), name
            checked += 1
        else:
            assert group['lr'] == pytest.approx(base_lr), name
        if name.endswith(('relative_position_bias_table', '.bias')) or \
                'norm' in name:
            assert group['weight_decay'] == 0, name
    assert checked == 6  # weight and bias of the three DTMs


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_dense_lit_s_uses_gradient_checkpointing(task):
    backbone = load(task).model.backbone
    assert backbone.arch == 's' and backbone.with_cp is True


# Tables per attention stage (2, 3) of LIT-S in the official dense code:
# built for 800 px (detection) and 512 px (segmentation), specs/lit.md 5.2.
OFFICIAL_TABLE_SIDES = {'det': (99, 49), 'seg': (63, 31)}


def _official_resize(table: torch.Tensor, side: int) -> torch.Tensor:
    """The official loader's resize: the ((2R-1)^2, heads) table as a
    (heads, 2R-1, 2R-1) image, bicubic, align_corners=False."""
    old = int(table.shape[0]**0.5)
    image = table.t().reshape(1, -1, old, old)
    resized = F.interpolate(image, size=(side, side), mode='bicubic')
    return resized.reshape(-1, side * side).t()


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_classification_checkpoint_tables_resized_as_official(
        task, tmp_path):
    """A 224 px classification checkpoint (what a pretraining run writes)
    loaded into the dense config by init_cfg=Pretrained gives the tables
    of the official detection/segmentation flow: one bicubic resize from
    224 px to the dense size (then to each map at run time)."""
    import sparse_backbones  # noqa: F401
    from mmpretrain.registry import MODELS as CLS_MODELS
    torch.manual_seed(0)
    cls_cfg = load('cls')
    classifier = CLS_MODELS.build(cls_cfg.model)
    checkpoint = tmp_path / 'epoch_300.pth'
    torch.save({'state_dict': classifier.state_dict()}, checkpoint)

    cfg = load(task)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.')
    host = importlib.import_module(f'{cfg.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        backbone = host.MODELS.build(cfg.model.backbone)
    backbone.init_weights()

    source = classifier.backbone.state_dict()
    loaded = backbone.state_dict()
    tables = [k for k in loaded if k.endswith('relative_position_bias_table')]
    assert tables
    for key in tables:
        stage = int(key.split('.')[1])
        side = OFFICIAL_TABLE_SIDES[task][stage - 2]
        assert source[key].shape[0] in (27**2, 13**2)  # the 224 px tables
        assert loaded[key].shape[0] == side**2, key
        torch.testing.assert_close(
            loaded[key], _official_resize(source[key], side), msg=key)
    # Everything else arrives unchanged.
    for key, value in loaded.items():
        if key in source and key not in tables:
            assert torch.equal(value, source[key]), key
