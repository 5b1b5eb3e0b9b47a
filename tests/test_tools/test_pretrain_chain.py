# Copyright (c) sparse_backbones contributors. All rights reserved.
"""From scratch to every downstream task: a pretraining run's checkpoint
goes, without conversion, into scene classification, then Mask R-CNN, then
UperNet, each stage loading the previous stage's backbone through
``model.backbone.init_cfg=dict(type='Pretrained', prefix='backbone.')``.

The tools run in subprocesses on the ``--demo`` data, as a user runs them.
The default run covers pretraining (the ``--demo`` of a pretraining config:
ImageNet layout, the full recipe pipeline, top-1/top-5) and the first
downstream stage on a short schedule; the whole chain is ``slow``.
"""
import glob
import importlib
import json
import os.path as osp
import re
from pathlib import Path
from typing import List, Set

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tests import REPO
from tests.test_tools.test_train_test import parse_metrics, run, tool

PRETRAIN = 'configs/pretrain/lemevit-tiny_8xb256_in1k.py'
DOWNSTREAM = dict(
    cls='configs/cls/lemevit-tiny_8xb64_aid.py',
    det='configs/det/mask-rcnn_lemevit-tiny_fpn_1x_dota.py',
    seg='configs/seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py')
# Each stage shortened (AID 3 of the demo's 12 epochs, DOTA 2 of 6; the
# Potsdam demo's 40 iterations): enough to see the loss fall.
SHORT = dict(
    cls=['train_cfg.max_epochs=3', 'default_hooks.checkpoint.interval=3'],
    det=[
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2'
    ],
    seg=[])
LAST_CHECKPOINT = dict(cls='epoch_3.pth', det='epoch_2.pth', seg='iter_40.pth')
CHAIN_TIMEOUT = 1800  # seconds per stage of the slow chain (2-core CPU)
LOAD_REPORT = re.compile(r'Loaded LeMeViT weights from (\S+); ignored (\d+) '
                         r'keys not used by this model')


def _demo(config: str) -> List[str]:
    return [REPO / config, '--demo', '--overwrite']


def _pretrained(checkpoint: Path) -> List[str]:
    return [
        '--cfg-options', 'model.backbone.init_cfg.type=Pretrained',
        f'model.backbone.init_cfg.checkpoint={checkpoint}',
        'model.backbone.init_cfg.prefix=backbone.'
    ]


def logged_losses(work_dir: Path) -> List[float]:
    """The training losses mmengine logged, in order."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row['loss'] for row in rows if 'loss' in row]


def backbone_keys(config: str) -> Set[str]:
    """The state-dict keys of the config's backbone."""
    cfg = Config.fromfile(str(REPO / config))
    host = importlib.import_module(f'{cfg.default_scope}.registry')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return set(host.MODELS.build(cfg.model.backbone).state_dict())


def check_loaded(output: str, checkpoint: Path, source_config: str,
                 config: str) -> int:
    """The backbone loaded strictly (every key, right shapes: the loader
    raises otherwise) from ``checkpoint``, ignoring exactly the keys of the
    source backbone that this one lacks; returns their number."""
    reports = LOAD_REPORT.findall(output)
    assert len(reports) == 1, output[-4000:]
    source, ignored = reports[0]
    assert Path(source) == checkpoint
    theirs, ours = backbone_keys(source_config), backbone_keys(config)
    assert ours <= theirs
    assert int(ignored) == len(theirs - ours)
    return int(ignored)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('chain')


@pytest.fixture(scope='module')
def pretrained(workspace) -> Path:
    """One demo epoch of LeMeViT-T ImageNet pretraining."""
    work_dir = workspace / 'pretrain'
    output = run(
        tool('train.py', *_demo(PRETRAIN), '--work-dir', work_dir),
        workspace)
    metrics = parse_metrics(output, 'final validation metrics')
    top1, top5 = metrics['accuracy/top1'], metrics['accuracy/top5']
    assert 0 <= top1 <= top5 <= 100
    assert '--demo: pretrain on' in output
    checkpoint = work_dir / 'epoch_1.pth'
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)
    # The recipe's EMAHook ran; its average is the checkpoint's state_dict.
    assert 'ema_state_dict' in saved
    assert saved['meta']['epoch'] == 1
    return checkpoint


def test_pretraining_demo_writes_the_imagenet_layout(workspace, pretrained):
    root = workspace / 'data' / 'demo' / 'imagenet'
    for split in ('train', 'val'):
        lines = (root / 'meta' / f'{split}.txt').read_text().splitlines()
        labels = {int(line.split()[1]) for line in lines}
        assert labels == set(range(10))
        for line in lines:
            path = root / split / line.split()[0]
            assert path.suffix == '.JPEG' and path.is_file()
            # The folder is the synset of the label.
            assert path.parent.name == sorted(
                p.name for p in (root / split).iterdir())[int(line.split()[1])]


def test_pretraining_checkpoint_fine_tunes_on_aid(workspace, pretrained):
    work_dir = workspace / 'cls_short'
    output = run(
        tool('train.py', *_demo(DOWNSTREAM['cls']), '--work-dir',
             work_dir, *_pretrained(pretrained), *SHORT['cls']), workspace)
    # The classifier's head is new: prefix='backbone.' leaves it out.
    assert check_loaded(output, pretrained, PRETRAIN, DOWNSTREAM['cls']) == 0
    losses = logged_losses(work_dir)
    assert len(losses) >= 4
    assert losses[-1] < losses[0], losses


@pytest.mark.slow
def test_chain_pretrain_aid_maskrcnn_upernet(workspace, pretrained):
    source, source_config = pretrained, PRETRAIN
    ignored = {}
    for task in ('cls', 'det', 'seg'):
        work_dir = workspace / f'chain_{task}'
        output = run(
            tool('train.py', *_demo(DOWNSTREAM[task]), '--work-dir',
                 work_dir, *_pretrained(source), *SHORT[task]),
            workspace,
            timeout=CHAIN_TIMEOUT)
        ignored[task] = check_loaded(output, source, source_config,
                                     DOWNSTREAM[task])
        losses = logged_losses(work_dir)
        assert losses[-1] < losses[0], (task, losses)
        source = work_dir / LAST_CHECKPOINT[task]
        source_config = DOWNSTREAM[task]
        assert source.is_file(), task
    # The dense LeMeViT leaves out what only the classifier's output uses
    # (the meta tokens past the last cross-attention, the pooled norms);
    # detector and segmentor backbones are the same.
    assert ignored['cls'] == ignored['seg'] == 0 < ignored['det']


def test_millionaid_pretraining_demo(workspace):
    """The MillionAID recipe's --demo: the released layout (51 leaf
    folders), the split tool's lists, one epoch, top-1/top-5."""
    config = 'configs/pretrain/lemevit-tiny_8xb256_millionaid.py'
    output = run(
        tool('train.py', *_demo(config), '--work-dir',
             workspace / 'millionaid'), workspace)
    assert '--demo: pretrain on' in output and 'millionaid' in output
    metrics = parse_metrics(output, 'final validation metrics')
    assert 0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100
    lines = (workspace / 'data/demo/millionaid/meta/val.txt').read_text()
    assert {int(line.split()[1]) for line in lines.splitlines()} == set(
        range(51))
