# Copyright (c) sparse_backbones contributors. All rights reserved.
import importlib

import pytest
import torch
import torch.nn as nn

from sparse_backbones.layers import conv_bn
from sparse_backbones.layers.conv import _FUSED_KERNEL
from sparse_backbones.utils.complexity import count_macs

needs_kernel = pytest.mark.skipif(
    _FUSED_KERNEL is None, reason='torch built without oneDNN')


def _trained_bn(channels: int, affine: bool = True) -> nn.BatchNorm2d:
    """A BN in eval mode whose statistics and affine are not the identity."""
    bn = nn.BatchNorm2d(channels, affine=affine)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    if affine:
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.5, 0.5)
    return bn.eval()


@needs_kernel
@pytest.mark.parametrize('activation', ['none', 'gelu'])
@pytest.mark.parametrize('conv_bias,affine', [(True, True), (False, False)])
@pytest.mark.parametrize('stride,groups', [(2, 1), (1, 4)])
def test_folded_path_matches_reference(activation, conv_bias, affine, stride,
                                       groups):
    conv = nn.Conv2d(8, 12, 3, stride, padding=1, groups=groups,
                     bias=conv_bias)
    bn = _trained_bn(12, affine)
    # NCHW, channels-last and odd-sized inputs
    inputs = [
        torch.randn(2, 8, 15, 9),
        torch.randn(2, 8, 16, 16).contiguous(memory_format=torch.channels_last)
    ]
    for x in inputs:
        with torch.no_grad():
            fused = conv_bn(x, conv, bn, activation)
        reference = conv_bn(x, conv, bn, activation, fused=False)
        assert fused.shape == reference.shape
        torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)


@needs_kernel
def test_folded_path_only_for_frozen_eval_inference(count_calls):
    conv_module = importlib.import_module('sparse_backbones.layers.conv')
    calls = count_calls(conv_module, '_FUSED_KERNEL')
    conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    x = torch.randn(2, 3, 8, 8)
    conv_bn(x, conv, bn).sum().backward()  # training: BN batch statistics
    assert not calls and conv.weight.grad is not None
    with torch.no_grad():
        conv_bn(x, conv, bn)  # BN in train mode: its batch statistics
    assert not calls
    bn.eval()
    conv_bn(x, conv, bn)  # parameters need gradients
    assert not calls
    with torch.inference_mode():
        conv_bn(x, conv, bn)
    assert len(calls) == 1


@needs_kernel
def test_folded_path_is_counted():
    conv, bn = nn.Conv2d(3, 6, 3, stride=2, padding=1), _trained_bn(6)

    class ConvBN(nn.Module):

        def __init__(self, fused):
            super().__init__()
            self.conv, self.bn, self.fused = conv, bn, fused

        def forward(self, x):
            return conv_bn(x, self.conv, self.bn, 'gelu', fused=self.fused)

    frozen = ConvBN(True).requires_grad_(False)
    # 8x8 outputs x 6 channels x 27 products
    assert count_macs(frozen, (1, 3, 16, 16)) == 8 * 8 * 6 * 27
    assert count_macs(ConvBN(False), (1, 3, 16, 16)) == 8 * 8 * 6 * 27


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="'none' or 'gelu'"):
        conv_bn(torch.randn(1, 3, 8, 8), nn.Conv2d(3, 4, 3),
                nn.BatchNorm2d(4), 'relu')
