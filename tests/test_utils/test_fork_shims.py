# Copyright (c) sparse_backbones contributors. All rights reserved.
"""What the maintained fork's mmengine gets wrong, and our shims fix.

Every test runs on both stacks and asserts the behaviour users rely on; on
the fork (``onedl-mmengine``) each one fails without its shim in
``sparse_backbones/utils/fork_shims.py``.
"""
import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader, load_checkpoint

import sparse_backbones  # noqa: F401  (applies the shims)
from sparse_backbones.utils.fork_shims import apply_fork_shims, fork_installed
from sparse_backbones.utils.safe_load import enable_safe_checkpoint_loading

from tests.payloads import GetattrPayload, SystemPayload


def test_shims_apply_once_and_only_on_the_fork():
    # `import sparse_backbones` applied them already: nothing is left to do.
    assert apply_fork_shims() == []
    from mmengine.runner import checkpoint
    from sparse_backbones.utils.fork_shims import weights_only_torch_load
    replaced = getattr(checkpoint, '_safe_torch_load',
                       None) is weights_only_torch_load
    assert replaced == fork_installed()


def test_mmseg_base_configs_resolve(tmp_path):
    """Fork defect: MODULE2PACKAGE maps mmseg to the distribution
    'mmsegmentation', which the fork names 'onedl-mmsegmentation'."""
    path = tmp_path / 'child.py'
    path.write_text("_base_ = 'mmseg::_base_/default_runtime.py'\n")
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmseg'


def test_mmengine_loader_refuses_a_reduce_payload(tmp_path):
    """Fork defect: on a type off its list it retries with
    weights_only=False, which runs the payload."""
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(
            state_dict={'weight': torch.zeros(1, 1)},
            meta=dict(x=SystemPayload(f'touch {marker}'))), path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(pickle.UnpicklingError, match='system'):
            load_checkpoint(nn.Linear(1, 1), str(path), map_location='cpu')
        with pytest.raises(pickle.UnpicklingError, match='system'):
            CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()


@pytest.mark.parametrize('obj,name', [(np.ndarray, 'tofile'),
                                      (HistoryBuffer, '__init__')])
def test_mmengine_loader_refuses_getattr_beyond_history_buffer(
        tmp_path, obj, name):
    """Fork defect: its allow-list holds the real ``builtins.getattr``."""
    path = tmp_path / 'getattr.pth'
    torch.save(dict(state_dict={}, meta=GetattrPayload(obj, name)), path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_mmengine_loader_reads_mmengine_types_and_keeps_the_allow_list(
        tmp_path):
    """A numpy float32 scalar is off the fork's own list (it fell back to
    an unrestricted load); and its ``safe_globals`` block removed, on exit,
    the entries a tool had registered process-wide."""
    enable_safe_checkpoint_loading()
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'mmengine.pth'
    torch.save(
        dict(
            state_dict={'weight': torch.ones(1, 1)},
            meta=dict(score=np.float32(0.5), buffer=buffer)), path)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no "falling back" warning either
        loaded = CheckpointLoader.load_checkpoint(
            str(path), map_location='cpu')
    assert loaded['meta']['score'] == np.float32(0.5)
    assert loaded['meta']['buffer'].current() == 1.5
    assert HistoryBuffer in torch.serialization.get_safe_globals()


def test_weights_only_false_is_refused(tmp_path):
    from sparse_backbones.utils.fork_shims import weights_only_torch_load
    path = tmp_path / 'w.pth'
    torch.save({'w': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='weights_only=True only'):
        weights_only_torch_load(str(path), weights_only=False)
    assert weights_only_torch_load(str(path))['w'].shape == (1, )


def test_mmdet_and_mmrotate_datasets_import():
    """Fork defect: its mmdet.datasets imports imgaug 0.4, which reads
    ``np.sctypes`` (removed in numpy 2) at import."""
    import importlib
    for module in ('mmdet.datasets', 'mmrotate.datasets'):
        try:
            importlib.import_module(module.split('.')[0])
        except ImportError:
            continue  # mmrotate: only on the fork
        assert importlib.import_module(module) is not None


def test_rotated_map_evaluates_in_this_process():
    """Fork defect: mmrotate's eval_rbbox_map spawns 4 interpreters that
    die importing imgaug (numpy 2) and leave the pool waiting forever."""
    try:
        from mmrotate.evaluation.functional import eval_rbbox_map
    except ImportError:
        return  # the original releases have no mmrotate
    box = np.array([[50., 50., 40., 20., 0.3, 0.9]], np.float32)
    gt = dict(bboxes=box[:, :5], labels=np.array([0]),
              bboxes_ignore=np.zeros((0, 5), np.float32),
              labels_ignore=np.zeros(0, np.int64))
    mean_ap, _ = eval_rbbox_map([[box]], [gt], iou_thr=0.5)
    assert mean_ap == pytest.approx(1.0)
