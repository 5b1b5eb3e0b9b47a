# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Parameters and MACs against the published figures."""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch.nn as nn

from sparse_backbones.backbones import LeMeViT, deploy
from sparse_backbones.layers import attention
from sparse_backbones.layers.complexity import count_macs

# torch.utils.flop_counter on the official LeMeViT at 224, counting the
# attention products (specs/lemevit.md 3): 1.95 / 3.96 / 11.74 G MACs.
# (The README's 1.68 / 3.74 / 11.06 G come from calflops, which misses
# part of them.)
OPERATOR_MACS = {'tiny': 1.95e9, 'small': 3.96e9, 'base': 11.74e9}


@pytest.mark.parametrize('arch', [
    'tiny',
    pytest.param('small', marks=pytest.mark.slow),
    pytest.param('base', marks=pytest.mark.slow),
])
def test_lemevit_macs(arch):
    macs = count_macs(LeMeViT(arch, out_type='avg_featmap'), (1, 3, 224, 224))
    assert abs(macs / OPERATOR_MACS[arch] - 1) < 0.01


def test_fused_kernels_are_counted(monkeypatch):
    """The CPU SDPA and oneDNN linear kernels count as much as the explicit
    products and the reference layers (a deployed model takes the fused
    linear path)."""
    arch = dict(embed_dims=[32, 64, 96, 128], depths=[1, 1, 1, 1],
                cross_depth=1)
    model = LeMeViT(arch).eval()
    monkeypatch.setattr(attention, '_cpu_explicit_is_faster',
                        lambda *args: True)
    reference = count_macs(model, (1, 3, 64, 64))
    monkeypatch.setattr(attention, '_cpu_explicit_is_faster',
                        lambda *args: False)
    assert count_macs(model, (1, 3, 64, 64)) == reference
    deployed = deploy(copy.deepcopy(model))
    assert count_macs(deployed, (1, 3, 64, 64)) == reference


def test_get_flops_tool(repo_root):
    """The README's MACs command prints the figures of the table."""
    result = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'get_flops.py'),
        osp.join(repo_root, 'configs', 'cls', 'lemevit-tiny_8xb64_aid.py'),
        '--shape', '224', '224', '--cfg-options', 'model.backbone.arch=tiny'
    ], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'params: 8.31 M' in result.stdout  # backbone: 8,635,816 - head
    assert 'MACs: 1.95 G' in result.stdout


def test_counting_restores_trainable_flags_and_keeps_no_graph():
    arch = dict(embed_dims=[32, 64, 96, 128], depths=[1, 1, 1, 1],
                cross_depth=1)
    model = LeMeViT(arch).train()
    model.patch_embed.requires_grad_(False)  # a partly frozen model
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    outputs = []
    model.stages[-1].register_forward_hook(
        lambda module, inputs, out: outputs.append(out[0]))
    count_macs(model, (1, 3, 64, 64))
    assert outputs[0].grad_fn is None  # no graph pins the activations
    assert model.training
    assert {n: p.requires_grad
            for n, p in model.named_parameters()} == flags


def test_counting_a_model_whose_train_returns_none():

    class NoneFromTrain(nn.Linear):

        def train(self, mode=True):  # as mmpretrain's SwinTransformer
            super().train(mode)

    model = NoneFromTrain(4, 3)
    assert count_macs(model, (2, 4)) == 2 * 4 * 3
    assert model.training and model.weight.requires_grad
