# Copyright (c) sparse_backbones contributors. All rights reserved.
"""A checkpoint whose unpickling runs code is refused on every load path a
user takes, and the code never runs (the marker file is never created).

The paths: ``tools/test.py``, ``tools/train.py --resume`` and ``load_from``,
``init_cfg=dict(type='Pretrained')`` of a backbone, mmengine's
``load_checkpoint``, ``tools/infer_large.py`` and the visualisation loader
(the model converters have their own test, tests/test_converters). They run
in this process, on both dependency stacks (on the maintained fork the
mmengine paths go through the shim of utils/fork_shims.py).
"""
import pickle

import pytest
import torch
from mmengine.runner import load_checkpoint

from tests import REPO, load_tool
from tests.payloads import SystemPayload

CLS_CONFIG = str(REPO / 'configs/cls/lemevit-tiny_8xb64_aid.py')
SHORT = [
    'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=4',
    'train_cfg.max_epochs=2', 'param_scheduler.1.begin=1',
    'val_dataloader.dataset.indices=4', 'test_dataloader.dataset.indices=4'
]


@pytest.fixture
def payload(tmp_path, monkeypatch):
    """(checkpoint path, marker path); the test runs in tmp_path."""
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(
            state_dict={'backbone.x': torch.zeros(1)},
            meta=dict(note=SystemPayload(f'touch {marker}'))), path)
    return str(path), marker


def _refused(call, marker, ours=True):
    """The call fails naming the global, the code did not run, and (on
    the paths whose message is ours) no unrestricted load is suggested."""
    with pytest.raises((pickle.UnpicklingError, ValueError)) as error:
        call()
    message = str(error.value)
    assert 'system' in message, message
    if ours:
        assert 'runs whatever code' in message, message
        assert 'weights_only=False' not in message, message
        assert 'set to `False`' not in message, message  # torch's words
    assert not marker.exists(), 'the checkpoint ran its code'


def test_tools_test(payload, tmp_path):
    path, marker = payload
    tool = load_tool('test.py')
    _refused(
        lambda: tool.main([
            CLS_CONFIG, path, '--demo', '--work-dir',
            str(tmp_path / 'wt'), '--cfg-options', *SHORT
        ]), marker)


@pytest.mark.parametrize('how', ['--resume', 'load_from'])
def test_tools_train(payload, tmp_path, how):
    path, marker = payload
    tool = load_tool('train.py')
    args = [CLS_CONFIG, '--demo', '--work-dir', str(tmp_path / how)]
    if how == '--resume':
        args += ['--resume', path, '--cfg-options', *SHORT]
    else:
        args += ['--cfg-options', *SHORT, f'load_from={path}']
    # load_from is checked (check_checkpoint_fits) before mmengine loads it.
    _refused(lambda: tool.main(args), marker)


def test_init_cfg_pretrained(payload):
    from sparse_backbones.backbones import LeMeViT
    path, marker = payload
    model = LeMeViT(
        arch='tiny',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    _refused(model.init_weights, marker)


def test_mmengine_load_checkpoint(payload):
    path, marker = payload
    # torch's own message (mmengine passes it on): not ours to word.
    _refused(
        lambda: load_checkpoint(torch.nn.Linear(1, 1), path),
        marker,
        ours=False)


def test_visualization_loader(payload):
    from sparse_backbones.visualization import load_backbone
    path, marker = payload
    _refused(lambda: load_backbone(CLS_CONFIG, path), marker)


def test_infer_large(payload, tmp_path):
    import cv2
    import numpy as np
    path, marker = payload
    image = tmp_path / 'scene.png'
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    tool = load_tool('infer_large.py')
    det_config = str(REPO / 'configs/det/lemevit_maskrcnn.py')
    _refused(
        lambda: tool.main([
            det_config, path,
            str(image), '--out-dir',
            str(tmp_path / 'out'), '--no-progress'
        ]), marker)


def test_train_load_from_refuses_a_checkpoint_that_does_not_fit(tmp_path,
                                                                monkeypatch):
    """load_from of another model is an error, not a silent start from
    scratch; the head named by load_from_new_modules may differ."""
    monkeypatch.chdir(tmp_path)
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict={'model.conv.weight': torch.zeros(1)}), other)
    tool = load_tool('train.py')
    args = [CLS_CONFIG, '--demo', '--work-dir', str(tmp_path / 'w1')]
    with pytest.raises(ValueError, match='does not fit the model'):
        tool.main(args + ['--cfg-options', *SHORT, f'load_from={other}'])
    assert not list((tmp_path / 'w1').glob('*.pth'))  # nothing trained

    # The classifier's own weights with a head of other classes: allowed
    # when the config names the head as new.
    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.model.head.num_classes = 7
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    seven = tmp_path / 'seven.pth'
    torch.save(dict(state_dict=model.state_dict()), seven)
    with pytest.raises(ValueError, match='head.fc.weight: checkpoint'):
        tool.main(args + ['--cfg-options', *SHORT, f'load_from={seven}'])
    metrics = tool.main([
        CLS_CONFIG, '--demo', '--work-dir',
        str(tmp_path / 'w2'), '--cfg-options', *SHORT, f'load_from={seven}',
        "load_from_new_modules=['head']"
    ])
    assert 'accuracy/top1' in metrics
