# Copyright (c) sparse_backbones contributors. All rights reserved.
"""A checkpoint that does not fit the model is an error that says how."""
import re

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseTTAModel

from sparse_backbones.utils import check_checkpoint_fits


class _Classifier(nn.Module):

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        self.head = nn.Linear(8, num_classes)

    def test_step(self, data):  # what a TTA wrapper asks of its model
        return data


def _save(tmp_path, state_dict, name='ckpt.pth') -> str:
    path = str(tmp_path / name)
    torch.save(dict(state_dict=state_dict, meta=dict(epoch=1)), path)
    return path


def test_a_fitting_checkpoint_passes(tmp_path):
    model = _Classifier()
    check_checkpoint_fits(model, _save(tmp_path, model.state_dict()))
    # DDP-style 'module.' keys are what mmengine strips too.
    wrapped = {f'module.{k}': v for k, v in model.state_dict().items()}
    check_checkpoint_fits(model, _save(tmp_path, wrapped))


class _TTA(BaseTTAModel):

    def merge_preds(self, data_samples_list):
        return data_samples_list[0]


def test_wrappers_are_looked_through(tmp_path):
    model = _Classifier()
    tta = _TTA(module=model)
    check_checkpoint_fits(tta, _save(tmp_path, model.state_dict()))


@pytest.mark.parametrize('change, words', [
    ('prefix', [r"carry the prefix 'model\.'", '9 missing keys',
                'keys the model does not have']),
    ('classes', [r'2 keys with other shapes', r'head\.weight: checkpoint '
                 r'\(5, 8\) vs model \(3, 8\)']),
    ('design', ['9 missing keys', 'keys the model does not have']),
])
def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path, change, words):
    model = _Classifier()
    if change == 'prefix':
        state_dict = {f'model.{k}': v for k, v in model.state_dict().items()}
    elif change == 'classes':
        state_dict = _Classifier(num_classes=5).state_dict()
    else:
        state_dict = nn.Conv2d(3, 4, 3).state_dict()
    with pytest.raises(ValueError) as error:
        check_checkpoint_fits(model, _save(tmp_path, state_dict))
    message = str(error.value)
    assert 'does not fit the model of the config' in message
    for pattern in words:
        assert re.search(pattern, message), (
            pattern, message)


@pytest.mark.parametrize('content, words', [
    (b'', 'EOFError'),
    (b'not a checkpoint at all', "it is text beginning 'not a checkpoint"),
    (b'hello world\n', "(KeyError: 101): it is text beginning 'hello"),
    (bytes(range(256)) * 4, 'cannot read the checkpoint'),
])
def test_unreadable_files_say_what_they_are(tmp_path, content, words):
    path = tmp_path / 'broken.pth'
    path.write_bytes(content)
    with pytest.raises(ValueError) as error:
        check_checkpoint_fits(_Classifier(), str(path))
    message = str(error.value)
    assert words in message and 'expected a file written by torch.save' \
        in message
    assert message.endswith('of tools/train.py and of the model '
                            'converters.'), message
    # torch's advice to load unrestricted is not passed on, not even as
    # the cause a traceback would print.
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_checkpoints_with_older_names_of_ours_fit(tmp_path):
    """A detector checkpoint of LIT written before the norm{i} names (no
    version metadata) loads, so it fits."""
    from sparse_backbones.backbones import LIT

    class _Detector(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.backbone = LIT(
                dict(
                    embed_dims=[16, 32, 48, 64],
                    depths=[1, 2, 2, 1],
                    num_heads=[1, 1, 2, 4],
                    mlp_ratios=[2, 2, 4, 4],
                    position='relative'),
                out_norm_indices=(0, 2))
            self.head = nn.Linear(64, 3)

    model = _Detector()
    old = {
        re.sub(r'^backbone\.norm(\d)\.', r'backbone.stages.\1.out_norm.', k):
        v
        for k, v in model.state_dict().items()
    }
    assert 'backbone.stages.2.out_norm.bias' in old
    check_checkpoint_fits(model, _save(tmp_path, old))
    # Without the renames they would not fit: the check is not vacuous.
    model.backbone.upgrade_legacy_keys = lambda *args: None
    with pytest.raises(ValueError, match='missing keys'):
        check_checkpoint_fits(model, _save(tmp_path, old))


def test_modules_meant_to_start_fresh_may_differ(tmp_path):
    """Fine-tuning: a checkpoint with another head (other classes, or none)
    fits when the config names the head as new; the rest must still fit."""
    model = _Classifier(num_classes=3)
    other_classes = _save(tmp_path, _Classifier(num_classes=5).state_dict())
    with pytest.raises(ValueError, match="load_from_new_modules=\\['head'\\]"):
        check_checkpoint_fits(model, other_classes)
    check_checkpoint_fits(model, other_classes, new_modules=['head'])
    backbone_only = {
        k: v
        for k, v in model.state_dict().items() if k.startswith('backbone.')
    }
    check_checkpoint_fits(
        model, _save(tmp_path, backbone_only, 'b.pth'), new_modules=['head'])
    # The backbone is not new: a wrong one is still refused.
    wrong = dict(backbone_only)
    wrong['backbone.0.weight'] = torch.zeros(8, 5)
    with pytest.raises(ValueError, match='backbone.0.weight: checkpoint'):
        check_checkpoint_fits(
            model, _save(tmp_path, wrong, 'w.pth'), new_modules=['head'])
