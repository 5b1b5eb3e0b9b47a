# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Deformable convolution: the kernels deform_conv2d dispatches to
(grid_sample on CPU, torchvision elsewhere), the PyTorch reference, DTM."""
import math

import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.layers import (DeformableTokenMerging, deform,
                                     deform_conv2d)
from sparse_backbones.layers.deform import (DeformConv2d, deform_conv2d_macs,
                                            deform_conv2d_reference)
from sparse_backbones.layers.complexity import count_macs


def brute_force(x, offset, weight, stride):
    """DCNv1 written out point by point from the spec (section 2.3)."""
    B, C, H, W = x.shape
    out_channels, _, kh, kw = weight.shape
    out_h, out_w = offset.shape[2:]

    def sample(b, c, h, w):
        if h <= -1 or w <= -1 or h >= H or w >= W:
            return 0.
        h0, w0 = math.floor(h), math.floor(w)
        value = 0.
        for y, wy in ((h0, h0 + 1 - h), (h0 + 1, h - h0)):
            for xx, wx in ((w0, w0 + 1 - w), (w0 + 1, w - w0)):
                if 0 <= y < H and 0 <= xx < W:
                    value += wy * wx * x[b, c, y, xx].item()
        return value

    out = torch.zeros(B, out_channels, out_h, out_w, dtype=x.dtype)
    for b in range(B):
        for i in range(out_h):
            for j in range(out_w):
                samples = torch.tensor([[
                    sample(
                        b, c, i * stride + ki +
                        offset[b, 2 *
                               (ki * kw + kj), i, j].item(), j * stride + kj +
                        offset[b, 2 * (ki * kw + kj) + 1, i, j].item())
                    for ki in range(kh) for kj in range(kw)
                ] for c in range(C)],
                                       dtype=x.dtype)
                out[b, :, i,
                    j] = (weight.reshape(out_channels, C, -1) * samples).sum(
                        (1, 2))
    return out


def torchvision_deform_conv2d(x, offset, weight, bias=None, stride=1):
    return deform._tv_deform_conv2d(
        x, offset, weight, bias, stride=(stride, stride))


PATHS = {
    'dispatch': deform_conv2d,
    'reference': deform_conv2d_reference,
    'torchvision': torchvision_deform_conv2d,
}


@pytest.mark.parametrize('path', sorted(PATHS))
def test_both_paths_follow_the_dcn_definition(path):
    # offsets large enough to leave the map: corners outside read 0
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    weight = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    offset = torch.randn(2, 8, 2, 3, dtype=torch.float64) * 2.5
    expected = brute_force(x, offset, weight, stride=2)
    torch.testing.assert_close(PATHS[path](x, offset, weight, stride=2),
                               expected)


@pytest.mark.parametrize(
    'shape,kernel,stride,padding,dilation',
    [
        ((2, 16, 14, 14), 2, 2, 0, 1),  # the DTM
        ((1, 8, 11, 9), 2, 2, 0, 1),  # odd sides
        ((2, 6, 10, 12), 3, 1, 1, 1),
        ((1, 5, 12, 12), 3, 2, 1, 2),
    ])
def test_dispatch_matches_reference(shape, kernel, stride, padding, dilation,
                                    count_calls):
    """The CPU kernel (grid_sample + one product) and torchvision's op
    (the kernel elsewhere) against the gathers."""
    x = torch.randn(shape)
    weight = torch.randn(7, shape[1], kernel, kernel)
    bias = torch.randn(7)
    out_size = [(s + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
                for s in shape[2:]]
    offset = torch.randn(shape[0], 2 * kernel * kernel, *out_size) * 3
    args = (x, offset, weight, bias, stride, padding, dilation)
    calls = count_calls(deform, '_deform_conv2d_sampled')
    with torch.no_grad():
        out = deform_conv2d(*args)
    assert calls == [1]
    reference = deform_conv2d_reference(*args)
    assert out.shape == (shape[0], 7, *out_size)
    assert (out - reference).abs().max() < 1e-4
    with torch.no_grad():
        sampled = deform._deform_conv2d_sampled(
            x,
            *deform._sampling_positions(offset, (kernel, kernel), stride,
                                        padding, dilation), weight, bias)
    assert (sampled - reference).abs().max() < 1e-4
    torchvision = deform._tv_deform_conv2d(
        x,
        offset,
        weight,
        bias,
        stride=(stride, stride),
        padding=(padding, padding),
        dilation=(dilation, dilation))
    assert (torchvision - reference).abs().max() < 1e-4


def test_gradients_of_both_paths_agree():
    x = torch.randn(2, 4, 8, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 4, 2, 2, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(5, dtype=torch.float64, requires_grad=True)
    # away from integer positions, where bilinear sampling has no gradient
    offset = (torch.rand(2, 8, 4, 3, dtype=torch.float64) * 0.8 + 0.1)
    offset = (offset * torch.randn(2, 8, 4, 3).sign()).requires_grad_()
    grads = []
    for conv in (deform_conv2d, deform_conv2d_reference):
        out = conv(x, offset, weight, bias, 2)
        grads.append(
            torch.autograd.grad((out * out).sum(), (x, offset, weight, bias)))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('path', sorted(PATHS))
def test_zero_offsets_equal_a_strided_conv(path):
    x = torch.randn(2, 16, 14, 10)
    weight, bias = torch.randn(32, 16, 2, 2), torch.randn(32)
    offset = torch.zeros(2, 8, 7, 5)
    torch.testing.assert_close(
        PATHS[path](x, offset, weight, bias, 2),
        F.conv2d(x, weight, bias, stride=2),
        rtol=1e-4,
        atol=1e-4)


def test_bad_offset_channels_are_explained():
    x, weight = torch.randn(1, 4, 8, 8), torch.randn(4, 4, 2, 2)
    with pytest.raises(ValueError, match='offset needs 2 \\* 2 \\* 2 = 8'):
        deform_conv2d(x, torch.zeros(1, 4, 4, 4), weight, stride=2)
    with pytest.raises(ValueError, match='expects 4 input channels'):
        deform_conv2d(
            torch.randn(1, 3, 8, 8), torch.zeros(1, 8, 4, 4), weight, stride=2)


def test_dtm_starts_as_patch_merging_conv():
    """Zero-initialised offsets: the DTM is conv 2x2/2 + BN + GELU."""
    dtm = DeformableTokenMerging(8, 16).eval()
    conv = dtm.dconv
    assert conv.conv_offset.out_channels == 8
    assert conv.conv_offset.kernel_size == (2, 2)
    assert conv.conv_offset.stride == (2, 2)
    assert not conv.conv_offset.weight.any()
    assert not conv.conv_offset.bias.any()
    assert conv.bias is not None
    x = torch.randn(2, 8, 12, 6)
    expected = F.gelu(dtm.norm(F.conv2d(x, conv.weight, conv.bias, 2)))
    with torch.no_grad():
        torch.testing.assert_close(dtm(x), expected, rtol=1e-4, atol=1e-4)


def test_dtm_pads_odd_sides_and_paths_agree(monkeypatch):
    dtm = DeformableTokenMerging(6, 12).eval()
    with torch.no_grad():
        dtm.dconv.conv_offset.weight.normal_(std=0.5)
        dtm.dconv.conv_offset.bias.normal_()
    x = torch.randn(2, 6, 9, 7)
    with torch.no_grad():
        out = dtm(x)
        assert out.shape == (2, 12, 5, 4)
        monkeypatch.setattr(deform, 'deform_conv2d', deform_conv2d_reference)
        assert (out - dtm(x)).abs().max() < 1e-4


def test_offsets_get_gradients():
    dtm = DeformableTokenMerging(4, 8).train()
    dtm(torch.randn(2, 4, 8, 8)).square().mean().backward()
    grad = dtm.dconv.conv_offset.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_macs_are_counted_with_sampling():
    """count_macs sees torchvision's op: conv taps plus 4 MACs per bilinear
    sample, beside the offset conv (a plain conv)."""
    layer = DeformConv2d(16, 32, 2, stride=2)
    macs = count_macs(layer, (2, 16, 14, 10))
    offset_conv = 2 * 7 * 5 * 8 * 16 * 4
    deformable = deform_conv2d_macs(2, 16, 32, (2, 2), (7, 5))
    assert deformable == 2 * 7 * 5 * 16 * 4 * (32 + 4)
    assert macs == offset_conv + deformable
