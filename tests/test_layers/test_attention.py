# Copyright (c) sparse_backbones contributors. All rights reserved.
import pytest
import torch

from sparse_backbones.layers import Attention, multi_head_attention


@pytest.mark.parametrize('scale', [None, 0.05])
def test_fused_matches_reference(scale):
    q, k, v = (torch.randn(2, 3, n, 16) for n in (7, 11, 11))
    torch.testing.assert_close(
        multi_head_attention(q, k, v, scale, fused=True),
        multi_head_attention(q, k, v, scale, fused=False),
        rtol=1e-5, atol=1e-5)


def test_attention_module_paths_agree():
    fused = Attention(32, 4)
    reference = Attention(32, 4, fused=False)
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 10, 32)
    torch.testing.assert_close(fused(x), reference(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='divisible'):
        Attention(30, 4)
