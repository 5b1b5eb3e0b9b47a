# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The float32 regions of mixed precision, on inputs built to break them.

Each case feeds a primitive values that float16 holds but whose
intermediate results it does not (logits past 65504, the log of a mask's
zeros, logits one rounding step apart, sampling positions past 2048 px),
and checks the result under ``torch.autocast(dtype=float16)`` against
float32. CPU autocast runs the same casts as CUDA's for these ops.
"""
import pytest
import torch

from sparse_backbones.backbones.lit import relative_position_attention
from sparse_backbones.layers import (attention_reference,
                                     multi_head_attention)
from sparse_backbones.layers.deform import DeformConv2d
from sparse_backbones.layers.dge import DGEBlock, _region_layout
from sparse_backbones.layers.token_merge import TokenMergeMask

FP16 = dict(device_type='cpu', dtype=torch.float16)


def _relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    ours, reference = ours.float(), reference.float()
    return ((ours - reference).norm() / reference.norm()).item()


def _large_qkv(tokens: int, generator: torch.Generator):
    # |q|, |k| ~ 200-800: float16 values, but q k^T / sqrt(d) reaches 1e5.
    return [
        torch.randn(2, 2, tokens, 32, generator=generator) * 200
        for _ in range(3)
    ]


@pytest.mark.parametrize('attention',
                         [attention_reference, multi_head_attention])
def test_attention_logits_past_float16_range(attention):
    query, key, value = _large_qkv(49, torch.Generator().manual_seed(0))
    logits = (query @ key.transpose(-2, -1)) * 32**-0.5
    assert logits.abs().max() > 65504  # the case is adversarial
    reference = attention(query, key, value)
    with torch.autocast(**FP16):
        out = attention(query, key, value)
    assert torch.isfinite(out).all()
    assert _relative_error(out, reference) < 2e-3


def test_lit_relative_position_attention_past_float16_range():
    query, key, value = _large_qkv(36, torch.Generator().manual_seed(1))
    table_rows = torch.randn(2, 11 * 11) * 5
    reference = relative_position_attention(query, key, value, table_rows,
                                            (6, 6))
    with torch.autocast(**FP16):
        out = relative_position_attention(query, key, value, table_rows,
                                          (6, 6))
    assert torch.isfinite(out).all()
    assert _relative_error(out, reference) < 2e-3


def test_ltm_merge_mask_with_zeros_in_the_previous_mask():
    torch.manual_seed(0)
    module = TokenMergeMask(32)  # alpha starts at 0: 0 * log(0) is NaN
    tokens = torch.randn(2, 16, 32) * 100
    seeds = torch.arange(0, 16, 4)
    prev_mask = torch.zeros(2, 16, 4)
    prev_mask[:, torch.arange(16), torch.arange(16) // 4] = 1
    reference = module(tokens, seeds, prev_mask)
    with torch.autocast(**FP16):
        mask = module(tokens, seeds, prev_mask)
    assert mask.dtype == torch.float32
    assert torch.isfinite(mask).all()
    torch.testing.assert_close(mask, reference)


def test_dge_routing_does_not_flip_on_rounding():
    block = DGEBlock(embed_dims=8, num_heads=1, mlp_ratio=1.).eval()
    with torch.no_grad():
        block.router.weight.zero_()
        # 10.003 is one float16 rounding step from 10.0 (spacing 1 / 128):
        # in float16 the two finest options tie and the first would win.
        block.router.bias.copy_(torch.tensor([10.0, 10.003, 9.0]))
    layout = _region_layout(8, 8, torch.device('cpu'))
    regions = torch.zeros(1, layout.per_option.shape[:2].numel(), 8)
    with torch.no_grad():
        reference = block._gate(regions, layout)
        with torch.autocast(**FP16):
            gate = block._gate(regions, layout)
    assert (reference.argmax(-1) == 1).all()
    assert torch.equal(gate, reference)


def test_deformable_offsets_far_from_the_origin():
    torch.manual_seed(0)
    layer = DeformConv2d(4, 4, kernel_size=2, stride=2)
    with torch.no_grad():
        # A third of a pixel everywhere: float16 positions past 2048 px
        # are multiples of 2, so the sampled columns would be wrong.
        layer.conv_offset.bias.fill_(1 / 3)
    x = torch.randn(1, 4, 2, 4400)
    with torch.no_grad():
        reference = layer(x)
        with torch.autocast(**FP16):
            out = layer(x)
    far = (slice(None), slice(None), slice(None), slice(1100, None))
    assert _relative_error(out[far], reference[far]) < 5e-3
