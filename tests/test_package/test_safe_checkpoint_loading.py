# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The entry points that load checkpoints install the ``weights_only``
allow-list; importing the package does not.

torch's allow-list is process-wide, so each scenario runs in a fresh
interpreter where nothing has installed it yet. The checkpoint is a real
mmengine training checkpoint (``message_hub`` with ``HistoryBuffer``s,
numpy metrics), which plain ``torch.load(weights_only=True)`` refuses: each
child checks that first, so no test passes vacuously.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sparse_backbones.utils.safe_load import (enable_safe_checkpoint_loading,
                                              mmengine_checkpoint_globals,
                                              safe_checkpoint_loading)

from tests import REPO


# Defines a tiny mmengine model/dataset/metric, trains one epoch and leaves
# the checkpoint in CKPT; then runs the scenario's BODY.
PRELUDE = '''
import os.path as osp
import pickle
import sys

import numpy as np
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, METRICS, MODELS
from mmengine.runner import Runner
from torch.utils.data import Dataset

import sparse_backbones  # noqa: F401
from sparse_backbones.utils.safe_load import mmengine_checkpoint_globals

WORK_DIR = sys.argv[1]


def installed():
    """The entries of our allow-list that torch's holds now (torch adds
    entries of its own on import, so the list is never just ours)."""
    present = torch.serialization.get_safe_globals()
    return [e for e in mmengine_checkpoint_globals() if e in present]


@MODELS.register_module()
class SafeLoadTinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        targets = torch.stack(targets)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return list(zip(out, targets))


@DATASETS.register_module()
class SafeLoadTinyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'), scale=np.float64(2.0))

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)),
                    targets=torch.tensor([float(i)]))


@METRICS.register_module()
class SafeLoadMAE(BaseMetric):

    def process(self, data_batch, data_samples):
        for out, target in data_samples:
            self.results.append(float((out - target).abs()))

    def compute_metrics(self, results):
        return dict(mae=np.float64(np.mean(results)))


def config(name, **kwargs):
    loader = dict(dataset=dict(type='SafeLoadTinyDataset'),
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  batch_size=2, num_workers=0)
    cfg = dict(
        model=dict(type='SafeLoadTinyModel'),
        work_dir=osp.join(WORK_DIR, name),
        experiment_name=name,
        default_scope='mmengine',
        train_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01,
                                          momentum=0.9)),
        test_dataloader=loader,
        test_cfg=dict(),
        test_evaluator=dict(type='SafeLoadMAE'),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        log_level='WARNING')
    cfg.update(kwargs)
    return cfg


def run(cfg, method):
    from mmengine.config import Config
    runner = Runner.from_cfg(Config(cfg))
    return runner, getattr(runner, method)()


assert not installed()
run(config('first'), 'train')
CKPT = osp.join(WORK_DIR, 'first', 'epoch_1.pth')
assert not installed()
try:
    torch.load(CKPT, weights_only=True)
except pickle.UnpicklingError:
    pass
else:
    raise AssertionError('the checkpoint loads without the allow-list')
'''


def run_child(body: str, tmp_path: Path) -> str:
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, '-c', code, str(tmp_path)],
                          cwd=tmp_path,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return proc.stdout


def test_runner_without_hook(tmp_path):
    """The baseline the hook fixes: a plain config run with load_from.

    The original mmengine calls ``torch.load`` (weights_only=True, torch's
    default) and refuses the checkpoint. On the maintained fork, whose own
    loader would fall back to an unrestricted load, ``import
    sparse_backbones`` replaced that loader (utils/fork_shims.py, shim 2):
    it loads with our allow-list for the call only, and leaves none behind.
    """
    from sparse_backbones.utils.fork_shims import fork_installed
    out = run_child(
        '''
        try:
            run(config('no_hook', load_from=CKPT), 'test')
        except pickle.UnpicklingError:
            print('REFUSED')
        else:
            print('LOADED')
        assert not installed()
        ''', tmp_path)
    assert ('LOADED' if fork_installed() else 'REFUSED') in out


@pytest.mark.parametrize('hook_type', [
    'SafeCheckpointLoadingHook', 'sparse_backbones.SafeCheckpointLoadingHook'
])
def test_hook_alone_lets_a_config_run_load(tmp_path, hook_type):
    out = run_child(
        f'''
        hooks = [dict(type={hook_type!r})]
        runner, metrics = run(
            config('test', load_from=CKPT, custom_hooks=hooks), 'test')
        assert 'mae' in metrics, metrics
        torch.testing.assert_close(
            runner.model.linear.weight,
            torch.load(CKPT, weights_only=True)['state_dict']['linear.weight'])
        # resume (optimizer, message_hub, epoch) in train() as well
        runner, _ = run(
            config('resume', load_from=CKPT, resume=True, custom_hooks=hooks,
                   train_cfg=dict(by_epoch=True, max_epochs=2)), 'train')
        assert runner.epoch == 2, runner.epoch
        print('LOADED')
        ''', tmp_path)
    assert 'LOADED' in out


def test_pretrained_and_converter_load_and_leave_no_trace(tmp_path):
    """``init_cfg=Pretrained`` of our backbones and the converter CLI read a
    training checkpoint, and the allow-list is as before afterwards."""
    out = run_child(
        '''
        from collections import OrderedDict

        from mmengine.logging import HistoryBuffer

        from sparse_backbones.backbones import LeMeViT
        from sparse_backbones.converters.cli import load_upstream_checkpoint

        source = LeMeViT(arch='tiny')
        buffer = HistoryBuffer()
        buffer.update(1.5)
        path = osp.join(WORK_DIR, 'lemevit_training.pth')
        torch.save(dict(
            state_dict=OrderedDict(
                ('backbone.' + k, v) for k, v in source.state_dict().items()),
            message_hub=dict(log_scalars=dict(loss=buffer)),
            meta=dict(epoch=np.int64(3), scale=np.float64(2.0))), path)
        try:
            torch.load(path, weights_only=True)
        except pickle.UnpicklingError:
            pass
        else:
            raise AssertionError('loads without the allow-list')

        model = LeMeViT(arch='tiny', init_cfg=dict(
            type='Pretrained', checkpoint=path, prefix='backbone.'))
        model.init_weights()
        for k, v in source.state_dict().items():
            torch.testing.assert_close(model.state_dict()[k], v)
        assert not installed()

        # a model converter reads mmengine checkpoints too
        weights = load_upstream_checkpoint(CKPT)
        assert set(weights) == {'linear.weight', 'linear.bias'}, weights
        assert not installed()

        # an allow-list installed by the user stays installed
        sparse_backbones.enable_safe_checkpoint_loading()
        assert len(installed()) == len(mmengine_checkpoint_globals())
        model.init_weights()
        load_upstream_checkpoint(CKPT)
        assert len(installed()) == len(mmengine_checkpoint_globals())
        print('OK')
        ''', tmp_path)
    assert 'OK' in out


def test_tools_install_the_allow_list():
    """tools/_common.load_config, used by train.py and test.py, installs it;
    infer_large.py and visualize.py call the public function."""
    common = (REPO / 'tools/_common.py').read_text()
    load_config = common[common.index('def load_config'):]
    load_config = load_config[:load_config.index('\ndef ')]
    assert 'enable_safe_checkpoint_loading()' in load_config
    for script in ('infer_large.py', 'visualize.py'):
        main = (REPO / 'tools' / script).read_text()
        main = main[main.index('def main'):]
        assert 'enable_safe_checkpoint_loading()' in main, script


def _restore(entries) -> None:
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(entries)


def test_scoped_loading_removes_only_what_it_added():
    saved = torch.serialization.get_safe_globals()
    try:
        _restore([])
        marker = (len, 'tests.safe_load_marker')
        torch.serialization.add_safe_globals([marker])
        with safe_checkpoint_loading():
            inside = torch.serialization.get_safe_globals()
            for entry in mmengine_checkpoint_globals():
                assert entry in inside
        assert set(torch.serialization.get_safe_globals()) == {marker}

        enable_safe_checkpoint_loading()
        installed = set(torch.serialization.get_safe_globals())
        with safe_checkpoint_loading():
            pass
        # torch.serialization.safe_globals would have removed them here.
        assert set(torch.serialization.get_safe_globals()) == installed

        # idempotent, and re-installs after clear_safe_globals
        enable_safe_checkpoint_loading()
        assert set(torch.serialization.get_safe_globals()) == installed
        _restore([])
        enable_safe_checkpoint_loading()
        assert set(torch.serialization.get_safe_globals()) == \
            installed - {marker}
    finally:
        _restore(saved)
