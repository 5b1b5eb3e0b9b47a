# Copyright (c) sparse_backbones contributors. All rights reserved.
import os.path as osp

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT
