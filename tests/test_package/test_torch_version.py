# Copyright (c) sparse_backbones contributors. All rights reserved.
"""torch older than 2.6 loads checkpoints with weights_only=False by
default: the package refuses it, and the requirements say the same."""
import re

import pytest
import torch

from sparse_backbones.version import (MIN_TORCH, check_mmengine_version,
                                       check_torch_version)

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


@pytest.mark.parametrize('version', ['0.9.1', '1.0.0', '0.8.5+abc'])
def test_unsupported_mmengine_is_refused_naming_both_stacks(version):
    with pytest.raises(ImportError) as error:
        check_mmengine_version(version)
    message = str(error.value)
    assert version in message and '>= 0.10' in message
    assert 'sparse_backbones[onedl]' in message
    assert 'sparse_backbones[openmmlab]' in message


@pytest.mark.parametrize('version', ['0.10.7', '0.10.12', '0.11.0'])
def test_supported_mmengine_passes(version):
    check_mmengine_version(version)


def test_install_requires_names_no_host_distribution():
    """`pip install -e .` into a fork environment must not pull the
    original mmengine over the fork's files (or the reverse)."""
    setup = load_setup_requirements()
    hosts = ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpretrain', 'mmrotate')
    named = [req for req in setup if any(host in req for host in hosts)]
    assert not named, f'install_requires names {named}'


def load_setup_requirements():
    lines = (REPO / 'requirements' / 'runtime.txt').read_text().splitlines()
    lines = (line.split('#')[0].strip() for line in lines)
    return [line for line in lines if line]
