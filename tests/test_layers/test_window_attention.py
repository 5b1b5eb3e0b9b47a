# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Window attention: partitioning, the shift mask, the relative position
index, both attention paths, and equality with mmpretrain's layers."""
import pytest
import torch

import sparse_backbones.layers.attention as attention
from sparse_backbones.layers.window_attention import (ShiftWindowMSA,
                                                      WindowMSA,
                                                      relative_position_index,
                                                      shift_window_mask,
                                                      window_partition,
                                                      window_reverse)


@pytest.fixture(params=['explicit', 'sdpa'])
def attention_path(request, monkeypatch):
    """Force :func:`multi_head_attention` onto one of its two paths."""
    explicit = request.param == 'explicit'
    monkeypatch.setattr(attention, '_cpu_explicit_is_faster',
                        lambda *args: explicit)
    return request.param


def _randomise(module: torch.nn.Module) -> None:
    for param in module.parameters():
        torch.nn.init.normal_(param, std=0.2)


@pytest.mark.parametrize('window_size', [1, 2, 7])
def test_relative_position_index_is_swins(window_size):
    """The original Swin formula: (dy + ws - 1) (2 ws - 1) + dx + ws - 1."""
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(window_size), torch.arange(window_size),
            indexing='ij')).flatten(1)  # (2, N)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    relative = relative + window_size - 1
    expected = relative[..., 0] * (2 * window_size - 1) + relative[..., 1]
    assert torch.equal(relative_position_index(window_size), expected)


@pytest.mark.parametrize('padded_shape,window_size', [((14, 21), 7),
                                                      ((8, 8), 4),
                                                      ((7, 7), 7)])
def test_partition_and_reverse_are_inverse(padded_shape, window_size):
    x = torch.randn(2, *padded_shape, 5)
    windows = window_partition(x, window_size)
    nW = (padded_shape[0] // window_size) * (padded_shape[1] // window_size)
    assert windows.shape == (2 * nW, window_size**2, 5)
    # Window 0 is the top-left square, in raster order.
    torch.testing.assert_close(
        windows[0], x[0, :window_size, :window_size].reshape(-1, 5))
    torch.testing.assert_close(
        window_reverse(windows, window_size, padded_shape), x)


@pytest.mark.parametrize('hw_shape,shift', [((10, 9), True), ((14, 14), True),
                                            ((5, 3), False), ((16, 8), False)])
def test_shift_window_partition_round_trip(hw_shape, shift):
    layer = ShiftWindowMSA(8, 2, 7, shift=shift)
    x = torch.randn(2, hw_shape[0] * hw_shape[1], 8)
    windows, layout = layer.partition(x, hw_shape)
    torch.testing.assert_close(layer.reverse(windows, layout), x)
    padded = layout.padded_shape != tuple(hw_shape)
    assert (layout.valid is not None) == padded
    if padded:  # padding is zero and marked invalid
        assert (windows[~layout.valid] == 0).all()
        assert int(layout.valid.sum()) == x.shape[0] * x.shape[1]


@pytest.mark.parametrize('padded_shape,window_size,shift',
                         [((14, 14), 7, 3), ((14, 21), 7, 3), ((8, 12), 4, 2)])
def test_shift_mask_keeps_regions_apart(padded_shape, window_size, shift):
    """Swin's construction: label the 3 x 3 regions of the shifted map by
    slices, cut into windows, -100 where labels differ."""
    Hp, Wp = padded_shape
    image = torch.zeros(1, Hp, Wp, 1)
    label = 0
    slices = (slice(0, -window_size), slice(-window_size, -shift),
              slice(-shift, None))
    for h in slices:
        for w in slices:
            image[:, h, w, :] = label
            label += 1
    ids = window_partition(image, window_size)[..., 0]
    expected = (ids[:, None, :] - ids[:, :, None]).ne(0).float() * -100.0
    mask = shift_window_mask(padded_shape, window_size, shift)
    assert torch.equal(mask, expected)
    # Unshifted windows (all but the last row and column) are one region.
    assert (mask[0] == 0).all()


def test_effective_shift_skips_maps_that_fit_one_window():
    layer = ShiftWindowMSA(8, 2, 7, shift=True)
    assert layer.effective_shift((7, 7)) == 0
    assert layer.effective_shift((5, 3)) == 0
    assert layer.effective_shift((8, 7)) == 3
    assert ShiftWindowMSA(8, 2, 7, shift=False).effective_shift((14, 14)) == 0


@pytest.mark.parametrize('shifted', [False, True])
def test_window_msa_paths_agree(shifted):
    """SDPA with the bias as additive mask equals the explicit products."""
    layer = WindowMSA(16, 2, 4)
    _randomise(layer)
    x = torch.randn(3 * 4, 16, 16)  # 3 images of 4 windows
    mask = shift_window_mask((8, 8), 4, 2) if shifted else None
    outs = {}
    for explicit in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(attention, '_cpu_explicit_is_faster',
                          lambda *args, explicit=explicit: explicit)
            with torch.no_grad():
                outs[explicit] = layer(x, 3, mask)
    torch.testing.assert_close(outs[False], outs[True], rtol=1e-5, atol=1e-5)


def test_state_dict_keys_are_mmpretrains():
    mmpretrain = pytest.importorskip('mmpretrain')
    from mmpretrain.models.utils import ShiftWindowMSA as HostShiftWindowMSA
    host = HostShiftWindowMSA(16, 2, 7, shift_size=3)
    ours = ShiftWindowMSA(16, 2, 7, shift=True)
    assert list(ours.state_dict()) == list(host.state_dict())
    assert torch.equal(ours.w_msa.relative_position_index,
                       host.w_msa.relative_position_index)
    assert mmpretrain


@pytest.mark.parametrize('hw_shape,shift', [((14, 14), True),
                                            ((10, 9), True),
                                            ((20, 15), True),
                                            ((10, 9), False)])
def test_shift_window_msa_equals_mmpretrain(hw_shape, shift, attention_path):
    """partition -> attention -> reverse is mmpretrain's ShiftWindowMSA
    (zero padding to the window, cyclic shift, -100 mask), on both
    attention paths."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.models.utils import ShiftWindowMSA as HostShiftWindowMSA
    host = HostShiftWindowMSA(
        16, 2, 7, shift_size=3 if shift else 0, pad_small_map=True).eval()
    ours = ShiftWindowMSA(16, 2, 7, shift=shift).eval()
    _randomise(host)
    ours.load_state_dict(host.state_dict())
    x = torch.randn(2, hw_shape[0] * hw_shape[1], 16)
    with torch.no_grad():
        windows, layout = ours.partition(x, hw_shape)
        out = ours.reverse(ours(windows, layout), layout)
        torch.testing.assert_close(
            out, host(x, hw_shape), rtol=1e-5, atol=1e-5)
