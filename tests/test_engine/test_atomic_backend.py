# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Checkpoints are written all-or-nothing: a save interrupted half-way
leaves the previous file whole and no temporary file behind."""
import os
import stat

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner import save_checkpoint

from sparse_backbones.engine import ATOMIC_BACKEND, AtomicLocalBackend

from tests import load_tool


class _Interrupted(Exception):
    pass


def test_mmengine_builds_the_backend_by_name(tmp_path):
    backend = get_file_backend(
        str(tmp_path / 'x.pth'), backend_args=dict(backend=ATOMIC_BACKEND))
    assert isinstance(backend, AtomicLocalBackend)


def test_interrupted_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    args = dict(backend=ATOMIC_BACKEND)
    save_checkpoint(dict(state_dict={'w': torch.ones(3)}), str(path),
                    backend_args=args)
    old = path.read_bytes()

    real_fsync = os.fsync

    def fail_after_partial_write(fd):
        # The bytes are in the temporary file; the process dies now.
        raise _Interrupted

    monkeypatch.setattr(os, 'fsync', fail_after_partial_write)
    with pytest.raises(_Interrupted):
        save_checkpoint(dict(state_dict={'w': torch.zeros(1000)}), str(path),
                        backend_args=args)
    monkeypatch.setattr(os, 'fsync', real_fsync)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']

    # A completed save replaces it, with the mode a plain open() gives.
    save_checkpoint(dict(state_dict={'w': torch.zeros(2)}), str(path),
                    backend_args=args)
    assert torch.load(path, weights_only=True)['state_dict']['w'].shape == (
        2, )
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_train_tool_saves_through_it_unless_the_config_chose(tmp_path):
    common = load_tool('_common.py')
    from mmengine.config import Config
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(
        type='CheckpointHook', interval=1))))
    common.use_atomic_checkpoints(cfg)
    assert cfg.default_hooks.checkpoint.backend_args == dict(
        backend=ATOMIC_BACKEND)
    remote = Config(dict(default_hooks=dict(checkpoint=dict(
        type='CheckpointHook', out_dir='s3://bucket/run'))))
    common.use_atomic_checkpoints(remote)
    assert 'backend_args' not in remote.default_hooks.checkpoint
    chosen = dict(backend='local')
    own = Config(dict(default_hooks=dict(checkpoint=dict(
        type='CheckpointHook', backend_args=chosen))))
    common.use_atomic_checkpoints(own)
    assert own.default_hooks.checkpoint.backend_args == chosen
