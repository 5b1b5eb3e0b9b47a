# Copyright (c) sparse_backbones contributors. All rights reserved.
"""torch older than 2.6 loads checkpoints with weights_only=False by
default: the package refuses it, and the requirements say the same."""
import re

import pytest
import torch

from sparse_backbones.version import MIN_TORCH, check_torch_version

from tests import REPO


@pytest.mark.parametrize('version', ['2.1.0', '2.5.1+cu121', '1.13.1'])
def test_older_torch_is_refused_with_the_reason(version):
    with pytest.raises(ImportError) as error:
        check_torch_version(version)
    message = str(error.value)
    assert 'torch >= 2.6' in message and version in message
    assert 'weights_only=False' in message


@pytest.mark.parametrize('version', ['2.6.0', '2.14.1+cu130', '2.15.0a0'])
def test_supported_torch_passes(version):
    check_torch_version(version)


def test_installed_torch_passes():
    check_torch_version(torch.__version__)


def test_requirements_state_the_same_minimum():
    text = (REPO / 'requirements' / 'runtime.txt').read_text()
    found = re.search(r'^torch>=([\d.]+)$', text, re.M)
    assert found, 'requirements/runtime.txt must give torch a minimum'
    assert tuple(map(int, found.group(1).split('.'))) == MIN_TORCH
