# Copyright (c) sparse_backbones contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.layers import (Attention, attention, attention_reference,
                                     multi_head_attention)
from sparse_backbones.layers import deploy_modules
from sparse_backbones.layers.attention import CPU_EXPLICIT_MAX_KEYS


@pytest.mark.parametrize('scale', [None, 0.05])
@pytest.mark.parametrize('with_bias', [False, True])
def test_fused_matches_reference(scale, with_bias, monkeypatch, count_calls):
    # Past CPU_EXPLICIT_MAX_KEYS keys and, with a bias, past a (lowered)
    # logit limit, so the fused path is SDPA's.
    monkeypatch.setattr(attention, 'CPU_EXPLICIT_MAX_BIASED_LOGITS', 0)
    keys = CPU_EXPLICIT_MAX_KEYS + 11
    q, k, v = (torch.randn(2, 3, n, 16) for n in (7, keys, keys))
    bias = torch.randn(3, 7, keys) if with_bias else None
    calls = count_calls(F, 'scaled_dot_product_attention')
    torch.testing.assert_close(
        multi_head_attention(q, k, v, scale, bias),
        attention_reference(q, k, v, scale, bias),
        rtol=1e-5, atol=1e-5)
    assert calls == [1]


@pytest.mark.parametrize('queries, keys', [(9, 4), (4, 9), (6, 6)])
def test_explicit_products_are_the_definition(queries, keys):
    """The reference scales whichever of q and k has fewer tokens."""
    q, k, v = (torch.randn(2, 3, n, 8) for n in (queries, keys, keys))
    bias = torch.randn(3, queries, keys)
    expected = ((q @ k.transpose(-2, -1)) * 0.3 + bias).softmax(-1) @ v
    torch.testing.assert_close(
        attention_reference(q, k, v, 0.3, bias), expected)


@pytest.mark.parametrize('keys, with_bias, logit_limit, explicit', [
    (CPU_EXPLICIT_MAX_KEYS, False, 0, True),
    (CPU_EXPLICIT_MAX_KEYS + 1, False, 10**9, False),
    (CPU_EXPLICIT_MAX_KEYS + 1, True, 2 * 3 * 5 * (CPU_EXPLICIT_MAX_KEYS + 1),
     True),
    (CPU_EXPLICIT_MAX_KEYS + 1, True, 2 * 3 * 5 * CPU_EXPLICIT_MAX_KEYS,
     False),
])
def test_cpu_path_choice(keys, with_bias, logit_limit, explicit, monkeypatch,
                         count_calls):
    """Few keys, or a bias over at most the logit limit, take the explicit
    products on CPU; the answer is the same either way."""
    monkeypatch.setattr(attention, 'CPU_EXPLICIT_MAX_BIASED_LOGITS',
                        logit_limit)
    q, k, v = (torch.randn(2, 3, n, 16) for n in (5, keys, keys))
    bias = torch.randn(3, 5, keys) if with_bias else None
    calls = count_calls(F, 'scaled_dot_product_attention')
    torch.testing.assert_close(
        multi_head_attention(q, k, v, bias=bias),
        attention_reference(q, k, v, bias=bias),
        rtol=1e-5, atol=1e-5)
    assert calls == ([] if explicit else [1])


def test_attention_module_paths_agree():
    reference = Attention(32, 4)
    switched = copy.deepcopy(reference)
    deploy_modules(switched)
    x = torch.randn(2, 10, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            switched(x), reference(x), rtol=1e-5, atol=1e-5)
    # the module's own forward is the definition (fewer keys than
    # CPU_EXPLICIT_MAX_KEYS: the explicit products)
    B, N, C = x.shape
    q, k, v = reference.qkv(x).reshape(B, N, 3, 4, 8).permute(2, 0, 3, 1,
                                                              4).unbind(0)
    expected = reference.proj(
        attention_reference(q, k, v).transpose(1, 2).reshape(B, N, C))
    torch.testing.assert_close(reference(x), expected)
    with pytest.raises(ValueError, match='divisible'):
        Attention(30, 4)
