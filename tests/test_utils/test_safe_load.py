# Copyright (c) sparse_backbones contributors. All rights reserved.
"""mmengine checkpoints load under ``weights_only=True``; other pickles fail.

The checkpoint here is written by a real mmengine ``Runner`` (two epochs with
validation, momentum SGD, two parameter schedulers, ``save_best`` and numpy
values in the dataset meta and the metrics), so it holds what a training
checkpoint of the tools holds. ``tests/test_tools/test_train_test.py`` additionally loads
the checkpoints of the three real pipelines.
"""
import io
import os.path as osp
import pickle
import pickletools
import zipfile

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import Dataset

from sparse_backbones.utils.safe_load import (allow_mmengine_checkpoint_types,
                                              mmengine_checkpoint_globals)

from tests.payloads import GetattrPayload, SystemPayload


class _TinyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        targets = torch.stack(targets)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return list(zip(out, targets))


class _TinyDataset(Dataset):
    # numpy values in dataset_meta end up in the checkpoint's meta.
    metainfo = dict(
        classes=('a', 'b'),
        palette=[(1, 2, 3)],
        mean=np.array([0.5, 0.25], dtype=np.float32),
        scale=np.float64(2.0))

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> dict:
        return dict(
            inputs=torch.full((2, ), float(i)),
            targets=torch.tensor([float(i)]))


class _MAE(BaseMetric):

    def process(self, data_batch, data_samples) -> None:
        for out, target in data_samples:
            self.results.append(float((out - target).abs()))

    def compute_metrics(self, results) -> dict:
        # numpy scalars, as many real metrics return them.
        return dict(mae=np.float64(np.mean(results)), n=np.int64(8))


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory) -> str:
    """Train the tiny model two epochs and return its last checkpoint."""
    work_dir = str(tmp_path_factory.mktemp('safe_load_runner'))
    loader = dict(
        dataset=_TinyDataset(),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        num_workers=0)
    runner = Runner(
        model=_TinyModel(),
        work_dir=work_dir,
        train_dataloader=loader,
        val_dataloader=loader,
        val_evaluator=[_MAE()],
        val_cfg=dict(),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=2),
            dict(type='MultiStepLR', milestones=[1], by_epoch=True)
        ],
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook',
                interval=1,
                save_best='mae',
                rule='less')),
        experiment_name='safe_load_runner')
    runner.train()
    return osp.join(work_dir, 'epoch_2.pth')


# Globals (prefixes) that torch's weights_only unpickler allows by default.
_TORCH_DEFAULTS = ('torch.', 'collections.OrderedDict', 'collections.Counter',
                   '_codecs.encode', 'builtins.set', 'builtins.bytearray',
                   'builtins.complex')


def _globals_needed(path: str) -> set:
    """Globals that the pickle of a zip checkpoint references, minus torch's.

    (``torch.serialization.get_unsafe_globals_in_checkpoint`` would also hide
    the ones allow-listed already, which the tests of this module do.)
    """
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('/data.pkl'))
        data = archive.read(name)
    found = set()
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == 'GLOBAL':
            module, qualname = arg.split(' ')
            module = 'builtins' if module == '__builtin__' else module
            found.add(f'{module}.{qualname}')
    return {g for g in found if not g.startswith(_TORCH_DEFAULTS)}


def test_runner_checkpoint_needs_allow_list(runner_checkpoint):
    # Guards the other tests against passing vacuously: the file really
    # references globals outside torch's default allow-list.
    needed = _globals_needed(runner_checkpoint)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in needed
    assert 'builtins.getattr' in needed  # HistoryBuffer statistics methods
    assert 'numpy._core.multiarray._reconstruct' in needed
    assert 'numpy._core.multiarray.scalar' in needed


def test_allow_list_covers_runner_checkpoint(runner_checkpoint):
    allow_mmengine_checkpoint_types()
    names = set()
    for entry in mmengine_checkpoint_globals():
        obj, name = entry if isinstance(
            entry, tuple) else (entry,
                                f'{entry.__module__}.{entry.__qualname__}')
        names.add(name)
    assert _globals_needed(runner_checkpoint) <= names

    ckpt = torch.load(runner_checkpoint, weights_only=True)
    assert set(ckpt) >= {
        'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'
    }
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 8
    meta = ckpt['meta']['dataset_meta']
    np.testing.assert_array_equal(meta['mean'], [0.5, 0.25])
    assert meta['scale'] == 2.0 and meta['classes'] == ('a', 'b')
    buffer = ckpt['message_hub']['log_scalars']['val/mae']
    assert isinstance(buffer, HistoryBuffer)
    assert len(buffer.data[0]) == 2  # one value per validation epoch
    assert buffer.current() == pytest.approx(
        ckpt['message_hub']['runtime_info']['best_score'])
    assert ckpt['optimizer']['state'][0]['momentum_buffer'].shape == (1, 2)


def test_mmengine_loaders_use_allow_list(runner_checkpoint):
    """mmengine's own torch.load calls (weights_only by default) succeed."""
    allow_mmengine_checkpoint_types()
    model = _TinyModel()
    ckpt = load_checkpoint(model, runner_checkpoint, map_location='cpu')
    torch.testing.assert_close(model.linear.weight,
                               ckpt['state_dict']['linear.weight'])


def test_allow_is_idempotent():
    allow_mmengine_checkpoint_types()
    before = set(torch.serialization.get_safe_globals())
    allow_mmengine_checkpoint_types()
    assert set(torch.serialization.get_safe_globals()) == before
    # The real getattr would expose every attribute of every allowed
    # object; only the restricted stand-in may be registered.
    assert getattr not in before
    assert not any(
        isinstance(entry, tuple) and entry[0] is getattr for entry in before)


class _Custom:
    """An arbitrary class instance, as a hand-made checkpoint may hold."""

    def __init__(self) -> None:
        self.value = 3


def _save(obj, path: str) -> str:
    torch.save(obj, path)
    return path


def test_rejects_os_system_reduce(tmp_path):
    allow_mmengine_checkpoint_types()
    marker = tmp_path / 'pwned'
    path = _save(
        dict(
            state_dict={'w': torch.zeros(1)},
            meta=dict(x=SystemPayload(f'touch {marker}'))),
        str(tmp_path / 'evil.pth'))
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path, weights_only=True)
    model = nn.Linear(1, 1)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(model, path, map_location='cpu')
    assert not marker.exists()


def test_rejects_custom_class_instance(tmp_path):
    allow_mmengine_checkpoint_types()
    path = _save(
        dict(state_dict={'w': torch.zeros(1)}, meta=dict(obj=_Custom())),
        str(tmp_path / 'custom.pth'))
    with pytest.raises(pickle.UnpicklingError, match='_Custom'):
        torch.load(path, weights_only=True)


@pytest.mark.parametrize('obj,name', [(HistoryBuffer, '__init__'),
                                      (HistoryBuffer, '__globals__'),
                                      (np.ndarray, 'tofile'),
                                      (torch.Tensor, 'copy_')])
def test_getattr_only_reaches_history_buffer_methods(tmp_path, obj, name):
    allow_mmengine_checkpoint_types()
    path = _save(
        dict(x=GetattrPayload(obj, name)), str(tmp_path / 'getattr.pth'))
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(path, weights_only=True)


def test_getattr_of_statistics_method_loads(tmp_path):
    allow_mmengine_checkpoint_types()
    path = _save(
        dict(x=GetattrPayload(HistoryBuffer, 'mean')),
        str(tmp_path / 'mean.pth'))
    assert torch.load(path, weights_only=True)['x'] is HistoryBuffer.mean


def test_loads_numpy1_module_names(tmp_path):
    """Checkpoints written under numpy 1 name ``numpy.core.multiarray``."""
    allow_mmengine_checkpoint_types()
    buffer = io.BytesIO()
    torch.save(
        dict(arr=np.arange(3), val=np.float32(1.5)),
        buffer,
        _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    assert b'numpy._core.multiarray' in data
    # The legacy format is a plain stream of pickles, so the module name
    # can be rewritten in place to what numpy 1 writes.
    path = tmp_path / 'numpy1.pth'
    path.write_bytes(
        data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray'))
    loaded = torch.load(str(path), weights_only=True)
    np.testing.assert_array_equal(loaded['arr'], [0, 1, 2])
    assert loaded['val'] == np.float32(1.5)


@pytest.mark.parametrize('obj,name,call', [
    (HistoryBuffer, '__init__',
     "getattr(mmengine.logging.history_buffer.HistoryBuffer, '__init__')"),
    (np.ndarray, 'tofile', "getattr(numpy.ndarray, 'tofile')"),
    (torch.Tensor, 'copy_', "getattr(torch.Tensor, 'copy_')"),
])
@pytest.mark.parametrize('installed', [True, False])
def test_refused_getattr_is_named(tmp_path, obj, name, call, installed):
    """The refusal names the getattr and the danger, whether or not the
    allow-list is still installed when the message is written, and never
    in torch's words (which advise an unrestricted load)."""
    from sparse_backbones.utils.safe_load import (
        describe_unreadable_checkpoint, safe_checkpoint_loading)
    path = _save(
        dict(x=GetattrPayload(obj, name)), str(tmp_path / 'getattr.pth'))
    before = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()  # other tests install it
    try:
        with safe_checkpoint_loading():
            with pytest.raises(pickle.UnpicklingError) as error:
                torch.load(path, weights_only=True)
            if installed:
                message = describe_unreadable_checkpoint(path, error.value)
        if not installed:
            message = describe_unreadable_checkpoint(path, error.value)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
    assert message.startswith(f'{path} asks, while unpickling, for {call}')
    assert 'which runs code' in message and 'was not loaded' in message
    assert 'weights_only' not in message and '`False`' not in message
