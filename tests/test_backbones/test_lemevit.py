# Copyright (c) sparse_backbones contributors. All rights reserved.
"""LeMeViT specifics: exact sizes, temperatures and the dense/cls split."""
import math

import pytest
import torch

from sparse_backbones.backbones import LeMeViT
from sparse_backbones.backbones.lemevit import _DualCrossAttention

pytestmark = pytest.mark.timeout(300)

TINY = dict(
    embed_dims=[32, 64, 96, 128], depths=[1, 2, 1, 1], cross_depth=1)

# Official LeMeViT with a 1000-class head (README: 8.64 / 16.40 / 53.10 M;
# exact totals from rebuilding the official module, specs/lemevit.md 1).
PAPER_PARAMS = {'tiny': 8_635_816, 'small': 16_400_456, 'base': 53_098_152}


@pytest.mark.parametrize('arch', sorted(PAPER_PARAMS))
def test_parameter_count_with_1000_class_head(arch):
    model = LeMeViT(arch, out_type='avg_featmap')
    channels = model.out_channels[-1]
    total = sum(p.numel() for p in model.parameters())
    total += channels * 1000 + 1000  # LinearClsHead
    assert total == PAPER_PARAMS[arch]


@pytest.mark.parametrize('arch,channels', [
    ('tiny', (64, 128, 192, 320)),
    ('s', (96, 192, 320, 384)),
    ('base', (96, 192, 384, 512)),
])
def test_dense_channels(arch, channels):
    assert LeMeViT(arch).out_channels == channels


def test_dense_mode_builds_no_unused_meta_path():
    dense = LeMeViT(arch=TINY)
    names = {n for n, _ in dense.named_parameters()}
    # S stages and the final norms never read meta tokens in dense mode,
    # nor does the last DCA block produce a meta update.
    assert not any(n.startswith(('stages.2.meta_proj', 'stages.3.meta_proj',
                                 'norm.', 'meta_norm.')) for n in names)
    assert 'stages.1.blocks.1.attn.proj_c.weight' not in names
    assert 'stages.1.blocks.0.attn.proj_c.weight' in names
    cls = LeMeViT(arch=TINY, out_type='avg_featmap')
    cls_names = {n for n, _ in cls.named_parameters()}
    assert names < cls_names


def test_dense_features_equal_classification_features():
    """Dense features do not depend on the meta-token path after stage 1."""
    cls = LeMeViT(arch=TINY, out_type='avg_featmap').eval()
    dense = LeMeViT(arch=TINY, out_indices=(0, 1, 2, 3)).eval()
    dense.load_backbone_state_dict(cls.state_dict())
    x = torch.rand(2, 3, 64, 64)
    captured = []
    hooks = [s.register_forward_hook(lambda m, i, o: captured.append(o[0]))
             for s in cls.stages]
    with torch.no_grad():
        cls(x)
        outs = dense(x)
    for hook in hooks:
        hook.remove()
    for out, tokens in zip(outs, captured):
        B, C, H, W = out.shape
        torch.testing.assert_close(
            out, tokens.transpose(1, 2).reshape(B, C, H, W))


def test_fused_attention_matches_reference():
    fused = LeMeViT(arch=TINY, out_type='avg_featmap').eval()
    reference = LeMeViT(
        arch=TINY, out_type='avg_featmap', fused=False).eval()
    reference.load_state_dict(fused.state_dict())
    x = torch.rand(2, 3, 80, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            fused(x)[0], reference(x)[0], rtol=1e-5, atol=1e-5)


def test_dual_cross_attention_temperatures():
    """s_x = ln(M)/ln(N)/sqrt(C) and s_c = 1/sqrt(C), C the full width."""
    C, heads, N, M = 64, 2, 49, 16
    attn = _DualCrossAttention(C, heads, update_meta=True, fused=False)
    x, meta = torch.randn(1, N, C), torch.randn(1, M, C)
    q1, k1, v1 = attn.qkv1(x).chunk(3, dim=-1)
    q2, k2, v2 = attn.qkv2(meta).chunk(3, dim=-1)

    def manual(q, k, v, scale):
        q, k, v = (t.reshape(1, -1, heads, C // heads).transpose(1, 2)
                   for t in (q, k, v))
        out = ((q @ k.transpose(-2, -1)) * scale).softmax(-1) @ v
        return out.transpose(1, 2).reshape(1, -1, C)

    x_out, meta_out = attn(x, meta)
    torch.testing.assert_close(
        x_out,
        attn.proj_x(manual(q1, k2, v2, math.log(M) / math.log(N) / C**0.5)))
    torch.testing.assert_close(
        meta_out, attn.proj_c(manual(q2, k1, v1, C**-0.5)))


def test_cross_block_keeps_image_tokens():
    model = LeMeViT(arch=TINY).eval()
    block = model.stages[0].cross_blocks[0]
    x, meta = torch.randn(2, 16, 32), torch.randn(2, 4, 32)
    out_x, out_meta = block(x, meta, (4, 4))
    assert out_x is x
    assert not torch.allclose(out_meta, meta)


def test_too_small_input_is_explained():
    model = LeMeViT(arch=TINY).eval()
    with pytest.raises(ValueError, match='at least 2 tokens at stride 8'):
        model(torch.rand(1, 3, 8, 8))
    assert len(model(torch.rand(1, 3, 9, 8))) == 4


def test_bad_out_type():
    with pytest.raises(ValueError, match='out_type must be one of'):
        LeMeViT(arch=TINY, out_type='cls_token')


def test_drop_path_rises_linearly():
    model = LeMeViT(arch=TINY, drop_path_rate=0.3)
    blocks = [model.get_submodule(p) for p in model.block_prefixes()]
    rates = [getattr(b.drop_path, 'drop_prob', 0.) for b in blocks]
    expected = torch.linspace(0, 0.3, len(blocks)).tolist()
    assert rates == pytest.approx(expected)
