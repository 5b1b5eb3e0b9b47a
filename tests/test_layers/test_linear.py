# Copyright (c) sparse_backbones contributors. All rights reserved.
import importlib

import pytest
import torch
import torch.nn as nn

from sparse_backbones.layers import Mlp, linear
from sparse_backbones.layers.linear import _FUSED_KERNEL

needs_kernel = pytest.mark.skipif(
    _FUSED_KERNEL is None, reason='torch built without oneDNN')


@needs_kernel
@pytest.mark.parametrize('activation', ['none', 'gelu'])
@pytest.mark.parametrize('bias', [True, False])
def test_fused_matches_reference(activation, bias):
    layer = nn.Linear(48, 96, bias=bias)
    # 3-D, non-contiguous and batch-expanded inputs, as the backbones give
    inputs = [
        torch.randn(2, 50, 48),
        torch.randn(2, 48, 50).transpose(1, 2),
        torch.randn(1, 16, 48).expand(3, -1, -1),
    ]
    for x in inputs:
        with torch.no_grad():
            fused = linear(x, layer, activation)
        reference = linear(x, layer, activation, fused=False)
        torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)


@needs_kernel
def test_fused_path_runs_only_without_gradients(count_calls):
    # the package exports the function under the module's name
    linear_module = importlib.import_module('sparse_backbones.layers.linear')
    calls = count_calls(linear_module, '_FUSED_KERNEL')
    mlp = Mlp(8, 32)
    x = torch.randn(2, 5, 8)
    mlp(x).sum().backward()  # training: reference path, gradients flow
    assert not calls and mlp.fc1.weight.grad is not None
    with torch.no_grad():
        mlp(x)
    assert len(calls) == 2  # fc1 + GELU, fc2
    with torch.inference_mode():
        mlp(x)
    assert len(calls) == 4
    Mlp(8, 32, fused=False).eval()(x.detach())
    assert len(calls) == 4


def test_mlp_paths_agree():
    fused = Mlp(16, 64)
    reference = Mlp(16, 64, fused=False)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), reference(x), rtol=1e-5,
                                   atol=1e-5)
