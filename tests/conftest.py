# Copyright (c) sparse_backbones contributors. All rights reserved.
import pytest
import torch

# Before any test module imports a host: on the maintained fork the package
# applies its shims on import (sparse_backbones/utils/fork_shims.py), which
# `import mmdet.datasets` needs, as a user's script imports us first.
import sparse_backbones  # noqa: F401
from tests import REPO_ROOT


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture
def count_calls(monkeypatch):
    """``count_calls(owner, name)`` wraps ``owner.name`` for the test and
    returns the list that each call appends to (which kernel a path took).
    """

    def install(owner, name: str) -> list:
        calls = []
        original = getattr(owner, name)

        def spy(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
        return calls

    return install
