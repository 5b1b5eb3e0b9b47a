# Copyright (c) sparse_backbones contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.layers import Attention, multi_head_attention
from sparse_backbones.layers.attention import CPU_EXPLICIT_MAX_KEYS


@pytest.mark.parametrize('scale', [None, 0.05])
@pytest.mark.parametrize('with_bias', [False, True])
def test_fused_matches_reference(scale, with_bias, monkeypatch):
    # Past CPU_EXPLICIT_MAX_KEYS keys, so the fused path is SDPA's.
    keys = CPU_EXPLICIT_MAX_KEYS + 11
    q, k, v = (torch.randn(2, 3, n, 16) for n in (7, keys, keys))
    bias = torch.randn(3, 7, keys) if with_bias else None
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, 'scaled_dot_product_attention',
                        lambda *a, **kw: calls.append(1) or sdpa(*a, **kw))
    torch.testing.assert_close(
        multi_head_attention(q, k, v, scale, bias, fused=True),
        multi_head_attention(q, k, v, scale, bias, fused=False),
        rtol=1e-5, atol=1e-5)
    assert calls == [1]


def test_few_keys_on_cpu_take_the_explicit_products(monkeypatch):
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, 'scaled_dot_product_attention',
                        lambda *a, **kw: calls.append(1) or sdpa(*a, **kw))
    q, k, v = (torch.randn(2, 3, n, 16)
               for n in (100, CPU_EXPLICIT_MAX_KEYS, CPU_EXPLICIT_MAX_KEYS))
    torch.testing.assert_close(
        multi_head_attention(q, k, v), multi_head_attention(q, k, v,
                                                            fused=False))
    assert not calls


def test_attention_module_paths_agree():
    fused = Attention(32, 4)
    reference = Attention(32, 4, fused=False)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 10, 32)
    torch.testing.assert_close(fused(x), reference(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='divisible'):
        Attention(30, 4)
