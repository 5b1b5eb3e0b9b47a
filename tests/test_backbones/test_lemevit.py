# Copyright (c) sparse_backbones contributors. All rights reserved.
"""LeMeViT specifics: exact sizes, temperatures, the dense/cls split and
the deploy switch."""
import copy
import math

import pytest
import torch

import sparse_backbones.backbones.lemevit as lemevit_module
import sparse_backbones.layers.attention as attention_module
from sparse_backbones.backbones import LeMeViT
from sparse_backbones.backbones.lemevit import _DualCrossAttention
from sparse_backbones.layers import (FusedConv2d, FusedLinear,
                                     attention_reference)
from sparse_backbones.layers import fused as fused_layers

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
                                 'norm.', 'norm3.', 'meta_norm.'))
                   for n in names)
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


def deployed(model):
    switched = copy.deepcopy(model).eval()
    switched.switch_to_deploy()
    return switched


def reference_outputs(model, x, monkeypatch):
    """The unswitched model with every attention on the explicit products:
    the reference of both the deploy switch and the SDPA choice."""
    with monkeypatch.context() as patch:
        for owner in (lemevit_module, attention_module):
            patch.setattr(owner, 'multi_head_attention', attention_reference)
        with torch.no_grad():
            return model(x)


def test_deploy_matches_reference(monkeypatch):
    model = LeMeViT(arch=TINY, out_type='avg_featmap').eval()
    switched = deployed(model)
    x = torch.rand(2, 3, 80, 64)
    reference = reference_outputs(model, x, monkeypatch)
    with torch.no_grad():
        torch.testing.assert_close(
            switched(x)[0], reference[0], rtol=1e-5, atol=1e-5)


def test_deploy_matches_reference_dense(monkeypatch):
    model = LeMeViT(arch=TINY, out_indices=(0, 1, 2, 3)).eval()
    switched = deployed(model)
    x = torch.rand(2, 3, 80, 64)
    reference = reference_outputs(model, x, monkeypatch)
    with torch.no_grad():
        outs = switched(x)
    for out, ref in zip(outs, reference):
        assert out.is_contiguous()
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_deploy_swaps_stem_downsampling_and_linears():
    switched = deployed(LeMeViT(arch=TINY, out_type='avg_featmap'))
    # Stem conv-BN-GELU and conv-BN, each downsampling conv-BN folded.
    assert [type(m) for m in switched.patch_embed] == [
        FusedConv2d, torch.nn.Identity, torch.nn.Identity, FusedConv2d,
        torch.nn.Identity
    ]
    for stage in switched.stages[1:]:
        assert type(stage.downsample[0]) is FusedConv2d
    assert not [
        n for n, m in switched.named_modules()
        if type(m) in (torch.nn.Linear, torch.nn.BatchNorm2d)
        and not n == 'norm3'
    ]
    block = switched.stages[0].blocks[0]
    assert block.mlp.fc1.activation == 'gelu'
    assert all(
        isinstance(m, FusedLinear)
        for m in (block.attn.qkv1, block.attn.qkv2, block.attn.proj_x))
    with pytest.raises(RuntimeError, match='switched to deploy'):
        switched.train()


@pytest.mark.skipif(
    fused_layers.ONEDNN_LINEAR is None or fused_layers.ONEDNN_CONV is None,
    reason='this torch has no oneDNN fused kernels')
def test_deploy_runs_onednn_kernels(count_calls):
    model = LeMeViT(arch=TINY, out_type='avg_featmap').eval()
    switched = deployed(model)
    linear_calls = count_calls(fused_layers, 'ONEDNN_LINEAR')
    conv_calls = count_calls(fused_layers, 'ONEDNN_CONV')
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))
    assert not linear_calls and not conv_calls  # the reference: no kernel
    with torch.no_grad():
        switched(torch.rand(1, 3, 64, 64))
    linears = sum(isinstance(m, FusedLinear) for m in switched.modules())
    assert len(conv_calls) == 2 + 3  # stem convs, downsampling convs
    # Meta tokens also run through qkv/proj/MLP: at least one call each.
    assert len(linear_calls) >= linears


def test_dual_cross_attention_temperatures():
    """s_x = ln(M)/ln(N)/sqrt(C) and s_c = 1/sqrt(C), C the full width."""
    C, heads, N, M = 64, 2, 49, 16
    attn = _DualCrossAttention(C, heads, update_meta=True)
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


def test_only_the_classifier_has_an_output_norm():
    """LeMeViT's maps have no output norms; the classifier's BN is norm3
    and exists only where no map is returned."""
    dense = LeMeViT(arch=TINY, out_indices=(0, 1, 2, 3))
    assert all(dense.out_norm(i) is None for i in range(4))
    cls = LeMeViT(arch=TINY, out_type='avg_featmap')
    assert isinstance(cls.out_norm(3), torch.nn.BatchNorm2d)
    assert all(cls.out_norm(i) is None for i in range(3))
    assert 'norm3' in cls.stage_module_names(3)


def test_pooled_output_is_the_official_classifier_input():
    model = LeMeViT(arch=TINY, out_type='avg_featmap').eval()
    x = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        state = model.forward_stem(x)
        for i in range(4):
            state = model.forward_stage(i, state)
        tokens, meta, (H, W) = state
        B, _, C = tokens.shape
        image = model.norm3(tokens.transpose(1, 2).reshape(B, C, H, W))
        expected = image.mean(dim=(2, 3)) + model.meta_norm(meta).mean(1)
        torch.testing.assert_close(model(x)[0], expected)


def test_legacy_norm_key_loads(tmp_path):
    """Checkpoints written before _version 2 name norm3 ``norm``."""
    source = LeMeViT(arch=TINY, out_type='avg_featmap')
    for buffer in ('running_mean', 'running_var'):
        getattr(source.norm3, buffer).uniform_(0.5, 1.5)
    legacy = {
        k.replace('norm3.', 'norm.', 1) if k.startswith('norm3.') else k: v
        for k, v in source.state_dict().items()
    }
    assert 'norm.running_var' in legacy and 'norm3.running_var' not in legacy
    target = LeMeViT(arch=TINY, out_type='avg_featmap')
    # load_state_dict: no version metadata means an old checkpoint
    target.load_state_dict(dict(legacy), strict=True)
    assert torch.equal(target.norm3.running_var, source.norm3.running_var)
    # the Pretrained path, inside a classifier checkpoint
    ckpt = tmp_path / 'old_classifier.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in legacy.items()}}, ckpt)
    target = LeMeViT(
        arch=TINY,
        out_type='avg_featmap',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    target.init_weights()
    assert torch.equal(target.norm3.running_mean,
                       source.norm3.running_mean)
