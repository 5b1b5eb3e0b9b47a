# Copyright (c) sparse_backbones contributors. All rights reserved.
"""visualization.load_backbone: the backbone of a config with the weights
of a checkpoint that fits it, or a readable refusal."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from sparse_backbones.models import sync_in_channels
from sparse_backbones.visualization import load_backbone

from tests import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'cls', 'lemevit-tiny_8xb64_aid.py')


@pytest.fixture(scope='module')
def trained_state():
    pytest.importorskip('mmpretrain')
    cfg = Config.fromfile(CONFIG)
    sync_in_channels(cfg)
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model).state_dict()


def test_a_fitting_checkpoint_loads(trained_state, tmp_path):
    path = str(tmp_path / 'fits.pth')
    torch.save(dict(state_dict=trained_state), path)
    backbone, norm = load_backbone(CONFIG, path)
    for name, value in backbone.state_dict().items():
        assert torch.equal(value, trained_state[f'backbone.{name}']), name
    assert set(norm) == {'mean', 'std'}


def test_a_checkpoint_that_does_not_fit_is_refused(trained_state, tmp_path):
    path = str(tmp_path / 'prefixed.pth')
    torch.save(
        dict(state_dict={f'model.{k}': v
                         for k, v in trained_state.items()}), path)
    with pytest.raises(ValueError) as error:
        load_backbone(CONFIG, path)
    assert 'does not fit the model of the config' in str(error.value)
    assert "carry the prefix 'model.'" in str(error.value)
