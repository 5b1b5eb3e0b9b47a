# Copyright (c) sparse_backbones contributors. All rights reserved.
"""What the LIT configs promise beyond tests/test_configs/test_configs.py: DTM offsets
at 0.01x the learning rate, gradient checkpointing of LIT-S for dense
tasks."""
import importlib
import os.path as osp

import pytest
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
