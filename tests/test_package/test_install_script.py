# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/install_env.sh keeps each dependency stack in its own environment.

The original OpenMMLab releases and the maintained fork install the same
import names under different distribution names: one installed over the
other overwrites files without pip noticing. These checks run before the
script installs anything, so they need no network.
"""
import os
import subprocess
import sys

import pytest

from tests import REPO

SCRIPT = REPO / 'tools' / 'install_env.sh'


def fake_venv(tmp_path, stack=None):
    """A folder that looks like a venv of ``stack`` (bin/python exists)."""
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    (venv / 'bin' / 'python').symlink_to(sys.executable)
    if stack:
        (venv / 'sparse_backbones-stack').write_text(stack + '\n')
    return venv


def install(venv, stack):
    env = dict(os.environ, STACK=stack, VENV=str(venv))
    return subprocess.run(['bash', str(SCRIPT)],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=120)


@pytest.mark.parametrize('held,asked', [('onedl', 'openmmlab'),
                                        ('openmmlab', 'onedl')])
def test_refuses_to_mix_stacks_in_one_environment(tmp_path, held, asked):
    venv = fake_venv(tmp_path, held)
    proc = install(venv, asked)
    assert proc.returncode != 0
    assert f'holds STACK={held}' in proc.stderr
    assert f'VENV=.venv-{asked}' in proc.stderr  # says how to fix it
    assert (venv / 'sparse_backbones-stack').read_text().strip() == held


def test_unknown_stack_is_named(tmp_path):
    proc = install(fake_venv(tmp_path), 'openmmlab2')
    assert proc.returncode != 0
    assert 'unknown STACK=openmmlab2' in proc.stderr
    assert 'onedl or openmmlab' in proc.stderr


# The distributions each stack must pin (the script installs what it pins).
STACK_DISTRIBUTIONS = dict(
    onedl=('onedl-mmengine', 'onedl-mmcv', 'onedl-mmpretrain',
           'onedl-mmdetection', 'onedl-mmsegmentation', 'onedl-mmrotate'),
    openmmlab=('mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmsegmentation'))


@pytest.mark.parametrize('stack', sorted(STACK_DISTRIBUTIONS))
def test_each_stack_file_pins_torch_and_every_host(stack):
    text = (REPO / 'requirements' / f'stack-{stack}.txt').read_text()
    lines = (raw.split('#')[0].strip() for raw in text.splitlines())
    pins = dict(line.split('==') for line in lines if '==' in line)
    expected = {'torch', 'torchvision', *STACK_DISTRIBUTIONS[stack]}
    assert set(pins) == expected, pins
