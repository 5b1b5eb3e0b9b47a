# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The fused inference modules and the deploy switch that installs them:
switched modules equal the reference modules they replace."""
import copy

import pytest
import torch
import torch.nn as nn

from sparse_backbones.layers import (FusedConv2d, FusedLinear, Mlp,
                                     deploy_modules, fuse_conv_bn)
from sparse_backbones.layers import fused as fused_module
from sparse_backbones.layers.complexity import count_macs

needs_linear_kernel = pytest.mark.skipif(
    fused_module.ONEDNN_LINEAR is None, reason='torch built without oneDNN')
needs_conv_kernel = pytest.mark.skipif(
    fused_module.ONEDNN_CONV is None, reason='torch built without oneDNN')


def _reference_linear(layer: nn.Linear, activation: str):
    if activation == 'gelu':
        return nn.Sequential(layer, nn.GELU())
    return layer


@needs_linear_kernel
@pytest.mark.parametrize('activation', ['none', 'gelu'])
@pytest.mark.parametrize('bias', [True, False])
def test_fused_linear_matches_reference(activation, bias):
    layer = nn.Linear(48, 96, bias=bias)
    fused = FusedLinear.from_linear(layer, activation)
    assert fused.weight is layer.weight  # shares, does not copy
    reference = _reference_linear(layer, activation)
    # 3-D, non-contiguous and batch-expanded inputs, as the backbones give
    inputs = [
        torch.randn(2, 50, 48),
        torch.randn(2, 48, 50).transpose(1, 2),
        torch.randn(1, 16, 48).expand(3, -1, -1),
    ]
    for x in inputs:
        with torch.no_grad():
            out = fused(x)
        torch.testing.assert_close(
            out, reference(x), rtol=1e-5, atol=1e-5)


@needs_linear_kernel
def test_fused_kernel_runs_only_without_gradients(count_calls):
    calls = count_calls(fused_module, 'ONEDNN_LINEAR')
    mlp = Mlp(8, 32)
    x = torch.randn(2, 5, 8)
    mlp.eval()(x)
    assert not calls  # unswitched: the reference modules only
    deploy_modules(mlp)
    mlp(x).sum().backward()  # gradients needed: F.linear, grads flow
    assert not calls and mlp.fc1.weight.grad is not None
    with torch.no_grad():
        mlp(x)
    assert len(calls) == 2  # fc1 + GELU, fc2
    with torch.inference_mode():
        mlp(x)
    assert len(calls) == 4


def test_mlp_switched_equals_reference():
    reference = Mlp(16, 64)
    switched = copy.deepcopy(reference)
    switched.switch_to_deploy()
    deploy_modules(switched)
    assert isinstance(switched.fc1, FusedLinear)
    assert switched.fc1.activation == 'gelu'
    assert isinstance(switched.act, nn.Identity)
    assert isinstance(switched.fc2, FusedLinear)
    # names of the parameters stay: the same checkpoints load
    assert switched.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(
            switched(x), reference(x), rtol=1e-5, atol=1e-5)


def _trained_bn(channels: int, affine: bool = True) -> nn.BatchNorm2d:
    """A BN in eval mode whose statistics and affine are not the identity."""
    bn = nn.BatchNorm2d(channels, affine=affine)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    if affine:
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.5, 0.5)
    return bn.eval()


@pytest.mark.parametrize('activation', ['none', 'gelu'])
@pytest.mark.parametrize('conv_bias,affine', [(True, True), (False, False)])
@pytest.mark.parametrize('stride,groups', [(2, 1), (1, 4)])
def test_folded_conv_matches_reference(activation, conv_bias, affine,
                                       stride, groups):
    conv = nn.Conv2d(8, 12, 3, stride, padding=1, groups=groups,
                     bias=conv_bias)
    bn = _trained_bn(12, affine)
    reference = nn.Sequential(conv, bn, *(
        [nn.GELU()] if activation == 'gelu' else [])).eval()
    folded = fuse_conv_bn(conv, bn, activation)
    # NCHW, channels-last and odd-sized inputs
    inputs = [
        torch.randn(2, 8, 15, 9),
        torch.randn(2, 8, 16, 16).contiguous(memory_format=torch.channels_last)
    ]
    for x in inputs:
        with torch.no_grad():
            out = folded(x)
            expected = reference(x)
        assert out.shape == expected.shape
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@needs_conv_kernel
def test_folded_kernel_only_for_inference(count_calls):
    calls = count_calls(fused_module, 'ONEDNN_CONV')
    folded = fuse_conv_bn(nn.Conv2d(3, 4, 3), _trained_bn(4))
    x = torch.randn(2, 3, 8, 8)
    folded(x).sum().backward()  # parameters need gradients
    assert not calls and folded.weight.grad is not None
    with torch.no_grad():
        folded(x)
    assert len(calls) == 1
    with torch.inference_mode():
        folded(x)
    assert len(calls) == 2


def test_sequential_runs_are_folded_in_place():
    seq = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), _trained_bn(6), nn.GELU(),
        nn.Conv2d(6, 6, 3, padding=1), _trained_bn(6),
        nn.Conv2d(6, 6, 1)).eval()
    reference = copy.deepcopy(seq)
    deploy_modules(seq)
    assert [type(m) for m in seq] == [
        FusedConv2d, nn.Identity, nn.Identity, FusedConv2d, nn.Identity,
        nn.Conv2d
    ]
    assert seq[0].activation == 'gelu' and seq[3].activation == 'none'
    x = torch.randn(2, 3, 9, 10)
    with torch.no_grad():
        torch.testing.assert_close(seq(x), reference(x), rtol=1e-5,
                                   atol=1e-5)
    deploy_modules(seq)  # idempotent
    assert type(seq[0]) is FusedConv2d and type(seq[1]) is nn.Identity


@needs_conv_kernel
def test_folded_conv_is_counted():
    conv, bn = nn.Conv2d(3, 6, 3, stride=2, padding=1), _trained_bn(6)
    reference = nn.Sequential(conv, bn, nn.GELU())
    folded = fuse_conv_bn(conv, bn, 'gelu').requires_grad_(False)
    # 8x8 outputs x 6 channels x 27 products
    assert count_macs(folded, (1, 3, 16, 16)) == 8 * 8 * 6 * 27
    assert count_macs(reference, (1, 3, 16, 16)) == 8 * 8 * 6 * 27


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="'none' or 'gelu'"):
        fuse_conv_bn(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).eval(), 'relu')
    with pytest.raises(ValueError, match="'none' or 'gelu'"):
        FusedLinear(3, 4, activation='relu')


def test_unfoldable_pair_is_refused():
    with pytest.raises(ValueError, match='cannot fold'):
        fuse_conv_bn(
            nn.Conv2d(3, 4, 3, padding='same'),
            nn.BatchNorm2d(4).eval())
