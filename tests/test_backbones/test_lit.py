# Copyright (c) sparse_backbones contributors. All rights reserved.
"""LIT specifics: exact sizes, MACs, both position layouts, DTM wiring."""
import copy
import re

import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.backbones import LIT, lit
from sparse_backbones.backbones.lit import (
    AttentionBlock, MlpBlock, RelPosAttention, relative_position_attention,
    relative_position_attention_reference, relative_position_index)
from sparse_backbones.layers import (DeformableTokenMerging, FusedLinear,
                                     attention, attention_reference, deform,
                                     merge_heads, multi_head_attention)
from sparse_backbones.layers.complexity import count_macs, count_parameters

pytestmark = pytest.mark.timeout(600)


def small_arch(position):
    return dict(
        embed_dims=[16, 32, 48, 64],
        depths=[1, 2, 2, 1],
        num_heads=[1, 1, 2, 4],
        mlp_ratios=[2, 2, 4, 4],
        position=position)


# Official models with a 1000-class head, rebuilt from the official code
# (specs/lit.md section 1; README: 19M / 27M / 48M / 86M without head).
PAPER_PARAMS = {
    'ti': 19_886_272,
    's': 27_973_720,
    'm': 49_372_264,
    'b': 87_292_384
}
# MACs at 224 (specs/lit.md section 1: README FLOPs, which are MACs).
PAPER_MACS = {'ti': 3.6e9, 's': 4.1e9, 'm': 8.6e9, 'b': 15.0e9}


@pytest.mark.parametrize('arch', sorted(PAPER_PARAMS))
def test_parameter_count_with_1000_class_head(arch):
    with torch.device('meta'):  # shapes only: no memory, no init time
        model = LIT(arch, out_type='avg_featmap')
    channels = model.out_channels[-1]
    total = count_parameters(model) + channels * 1000 + 1000
    assert total == PAPER_PARAMS[arch]


@pytest.mark.parametrize('arch', [
    'ti', 's',
    pytest.param('m', marks=pytest.mark.slow),
    pytest.param('b', marks=pytest.mark.slow)
])
def test_macs_within_3_percent(arch):
    """Counted with the deformable sampling (torchvision op formula)."""
    macs = count_macs(LIT(arch, out_type='avg_featmap'), (1, 3, 224, 224))
    assert abs(macs / PAPER_MACS[arch] - 1) < 0.03


@pytest.mark.parametrize('arch,channels', [
    ('ti', (64, 128, 320, 512)),
    ('small', (96, 192, 384, 768)),
    ('m', (96, 192, 384, 768)),
    ('base', (128, 256, 512, 1024)),
])
def test_dense_channels(arch, channels):
    with torch.device('meta'):
        assert LIT(arch).out_channels == channels


def test_stage_layout():
    """MLP-only blocks in stages 1-2, attention in 3-4, a DTM before
    stages 2-4 with a zero 2x2/2 offset conv (8 offsets)."""
    for position in ('absolute', 'relative'):
        model = LIT(small_arch(position))
        for i, stage in enumerate(model.stages):
            kinds = {type(b) for b in stage.blocks}
            assert kinds == ({MlpBlock} if i < 2 else {AttentionBlock})
            assert (stage.downsample is None) == (i == 0)
            if i:
                assert isinstance(stage.downsample, DeformableTokenMerging)
                offset = stage.downsample.dconv.conv_offset
                assert offset.weight.shape == (8, model.embed_dims[i - 1], 2,
                                               2)
                assert not offset.weight.any() and not offset.bias.any()
        assert not any(hasattr(b, 'norm1') for b in model.stages[0].blocks)
        relative = isinstance(model.stages[2].blocks[0].attn, RelPosAttention)
        assert relative == (position == 'relative')
        assert hasattr(model.stages[0], 'pos_embed') == (
            position == 'absolute')


def test_norm_eps_follow_the_layouts():
    ti = LIT(small_arch('absolute'), out_type='avg_featmap')
    swin = LIT(small_arch('relative'), out_type='avg_featmap')
    assert ti.stages[2].blocks[0].norm1.eps == 1e-6 and ti.norm.eps == 1e-6
    assert swin.stages[2].blocks[0].norm1.eps == 1e-5
    assert swin.norm.eps == 1e-5
    assert ti.patch_embed.norm.eps == swin.patch_embed.norm.eps == 1e-5


@pytest.mark.parametrize('position', ['absolute', 'relative'])
@pytest.mark.parametrize('out_type', ['featmap', 'avg_featmap'])
def test_deployed_matches_reference(position, out_type, monkeypatch):
    """The deployed model (FusedLinear layers) and the unswitched one
    (grid_sample DCN, gather-free relative attention on CPU) against the
    references (gathers, gathered bias, explicit products), with
    trained-looking (non-zero) offsets and a resized table."""
    model = LIT(
        small_arch(position), out_type=out_type, pretrain_img_size=64).eval()
    with torch.no_grad():
        for stage in model.stages[1:]:
            stage.downsample.dconv.conv_offset.weight.normal_(std=0.2)
            stage.downsample.dconv.conv_offset.bias.normal_()
    deployed = copy.deepcopy(model)
    deployed.switch_to_deploy()
    assert any(isinstance(m, FusedLinear) for m in deployed.modules())
    x = torch.rand(2, 3, 90, 70)
    with torch.no_grad():
        outs, deployed_outs = model(x), deployed(x)
        with monkeypatch.context() as patch:
            patch.setattr(deform, 'deform_conv2d',
                          deform.deform_conv2d_reference)
            patch.setattr(lit, 'relative_position_attention',
                          relative_position_attention_reference)
            patch.setattr(attention, 'multi_head_attention',
                          attention_reference)
            references = model(x)
    for a, b, reference in zip(deployed_outs, outs, references):
        assert (a - b).abs().max() < 1e-4
        assert (a - reference).abs().max() < 1e-4
        assert (b - reference).abs().max() < 1e-4


def test_cls_token_only_in_classification_mode():
    dense = LIT(small_arch('absolute'))
    cls = LIT(small_arch('absolute'), out_type='avg_featmap')
    dense_names = {n for n, _ in dense.named_parameters()}
    cls_names = {n for n, _ in cls.named_parameters()}
    assert cls_names - dense_names == {
        'stages.3.cls_token', 'stages.3.cls_pos_embed', 'norm.weight',
        'norm.bias'
    }
    assert not any(re.match(r'norm\d', n) for n in cls_names)
    relative = LIT(small_arch('relative'), out_type='avg_featmap')
    assert not any('cls' in n for n, _ in relative.named_parameters())
    with pytest.raises(ValueError, match='out_type must be one of'):
        LIT(small_arch('absolute'), out_type='cls_token')


def test_classifier_inputs_are_the_official_ones():
    """Relative layout: mean of the normalised stage-4 tokens. Absolute
    layout: the normalised cls token, which attends to the image."""
    cls = LIT(small_arch('relative'), out_type='avg_featmap').eval()
    dense = LIT(
        small_arch('relative'), out_indices=3, out_norm_indices=()).eval()
    dense.load_backbone_state_dict(cls.state_dict())
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        features = dense(x)[0].flatten(2).transpose(1, 2)
        torch.testing.assert_close(
            cls(x)[0], cls.norm(features).mean(1), rtol=1e-5, atol=1e-5)

    ti = LIT(small_arch('absolute'), out_type='avg_featmap').eval()
    with torch.no_grad():
        before = ti(x)[0]
        assert before.shape == (2, 64)
        ti.stages[3].cls_token.add_(1.)
        assert not torch.allclose(ti(x)[0], before)
        # image tokens reach the cls token through attention
        assert not torch.allclose(ti(x.flip(-1))[0], ti(x)[0])


def test_dense_maps_are_taken_before_each_dtm():
    model = LIT(small_arch('relative'), out_norm_indices=(0, 2)).eval()
    seen = []
    hooks = [
        stage.downsample.register_forward_pre_hook(
            lambda m, args: seen.append(args[0])) for stage in model.stages[1:]
    ]
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        outs = model(x)
    for hook in hooks:
        hook.remove()
    # stages without an output norm return the DTM input as it is
    torch.testing.assert_close(outs[1], seen[1])
    # with one, the map is layer-normalised over channels
    norm = model.norm0
    expected = norm(seen[0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(outs[0], expected)
    assert model.out_norm(1) is None and not hasattr(model, 'norm1')
    with pytest.raises(ValueError, match='out_norm_indices'):
        LIT(small_arch('relative'), out_norm_indices=(4, ))


def test_checkpoints_with_old_output_norm_names_load(tmp_path):
    """Before _version 2 the output norms were stages.{i}.out_norm."""
    source = LIT(small_arch('relative'), out_norm_indices=(0, 2))
    state = {
        re.sub(r'^norm(\d)\.', r'stages.\1.out_norm.', k): v.clone()
        for k, v in source.state_dict().items()
    }
    assert 'stages.2.out_norm.bias' in state and 'norm2.bias' not in state
    with torch.no_grad():
        for key in ('stages.0.out_norm.weight', 'stages.2.out_norm.bias'):
            state[key].normal_()
    loaded = LIT(small_arch('relative'), out_norm_indices=(0, 2))
    loaded.load_state_dict(dict(state))  # no metadata: an old checkpoint
    assert torch.equal(loaded.norm0.weight, state['stages.0.out_norm.weight'])
    assert torch.equal(loaded.norm2.bias, state['stages.2.out_norm.bias'])
    path = tmp_path / 'old_detector.pth'
    weights = {f'backbone.{k}': v for k, v in state.items()}
    torch.save({'state_dict': weights}, path)
    pretrained = LIT(
        small_arch('relative'),
        out_norm_indices=(0, 2),
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    pretrained.init_weights()
    for (name, a), b in zip(loaded.state_dict().items(),
                            pretrained.state_dict().values()):
        assert torch.equal(a, b), name


def test_stage_tokens_leave_out_the_cls_token():
    model = LIT(small_arch('absolute'), out_type='avg_featmap').eval()
    with torch.no_grad():
        state = model.forward_stem(torch.rand(1, 3, 64, 96))
        for i in range(4):
            state = model.forward_stage(i, state)
        tokens, hw_shape = model.stage_tokens(3, state)
    assert hw_shape == (2, 3)
    assert state[0].shape == (1, 7, 64) and tokens.shape == (1, 6, 64)
    torch.testing.assert_close(tokens, state[0][:, 1:])


@pytest.mark.parametrize('position', ['absolute', 'relative'])
def test_odd_sizes_are_zero_padded_like_upstream(position):
    """Stride-4 features of a 61x75 image equal those of the image padded
    with zeros at the bottom/right to 64x76 (official PatchEmbed)."""
    model = LIT(
        small_arch(position), out_indices=0, pretrain_img_size=64).eval()
    x = torch.rand(1, 3, 61, 75)
    with torch.no_grad():
        out = model(x)[0]
        padded = model(F.pad(x, (0, 1, 0, 3)))[0]
    assert out.shape == (1, 16, 16, 19)
    torch.testing.assert_close(out, padded)


def test_relative_position_index_is_swins():
    H, W = 2, 3
    index = relative_position_index((H, W))
    coords = [(y, x) for y in range(H) for x in range(W)]
    for i, (yi, xi) in enumerate(coords):
        for j, (yj, xj) in enumerate(coords):
            row = (yi - yj + H - 1) * (2 * W - 1) + xi - xj + W - 1
            assert index[i, j] == row


def test_relative_bias_table_is_resized_bicubically():
    attn = RelPosAttention(16, 2, table_side=7)  # learned on a 4x4 grid
    table = attn.relative_position_bias_table
    index = relative_position_index((4, 4))
    # at the learned grid the table is used as it is
    torch.testing.assert_close(
        attn.position_bias((4, 4)), table.t()[:, index])
    index = relative_position_index((3, 5))
    resized = F.interpolate(
        table.t().reshape(1, 2, 7, 7), size=(5, 9), mode='bicubic')
    torch.testing.assert_close(
        attn.position_bias((3, 5)), resized.flatten(2)[0][:, index])


@pytest.mark.parametrize('hw_shape', [(3, 5), (6, 1), (4, 4)])
@pytest.mark.parametrize('chunk_logits', [1, 2 * 3 * 5 * 8, 2**22])
def test_gather_free_relative_attention_matches_gathered_bias(
        hw_shape, chunk_logits, monkeypatch):
    """One grid row per chunk, uneven chunks, one chunk: the same logits
    and gradients as the gathered (heads, N, N) bias."""
    monkeypatch.setattr(lit, 'CPU_CHUNK_LOGITS', chunk_logits)
    attn = RelPosAttention(24, 3, table_side=7)
    N = hw_shape[0] * hw_shape[1]
    q, k, v = (torch.randn(2, 3, N, 8, requires_grad=True) for _ in range(3))
    out = relative_position_attention(q, k, v, attn.table_rows(hw_shape),
                                      hw_shape)
    expected = attention_reference(q, k, v, bias=attn.position_bias(hw_shape))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    grad = torch.randn_like(out)
    inputs = (q, k, v, attn.relative_position_bias_table)
    for a, b in zip(
            torch.autograd.grad(out, inputs, grad),
            torch.autograd.grad(expected, inputs, grad)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_relative_attention_takes_the_gather_free_path_on_cpu(count_calls):
    attn = RelPosAttention(24, 3, table_side=7)
    calls = count_calls(lit, 'relative_position_attention')
    x = torch.randn(2, 12, 24)
    out = attn(x, (3, 4))
    assert len(calls) == 1
    # the reference: gathered bias, explicit products
    q, k, v = attn.qkv(x).reshape(2, 12, 3, 3, 8).permute(2, 0, 3, 1,
                                                          4).unbind(0)
    expected = attn.proj(
        merge_heads(
            relative_position_attention_reference(q, k, v,
                                                  attn.table_rows((3, 4)),
                                                  (3, 4))))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_relative_attention_adds_the_bias():
    q, k, v = (torch.randn(2, 3, 6, 8) for _ in range(3))
    bias = torch.randn(3, 6, 6)
    expected = ((q @ k.transpose(-2, -1)) / 8**0.5 + bias).softmax(-1) @ v
    for attend in (multi_head_attention, attention_reference):
        torch.testing.assert_close(
            attend(q, k, v, bias=bias), expected, rtol=1e-5, atol=1e-5)


def test_absolute_position_embeddings_are_resized_bilinearly():
    model = LIT(
        small_arch('absolute'), out_indices=0, pretrain_img_size=32).eval()
    stage = model.stages[0]
    assert stage.pos_embed.shape == (1, 64, 16)  # 8x8 grid at stride 4
    captured = []
    block = stage.blocks[0]
    hook = block.register_forward_pre_hook(
        lambda m, args: captured.append(args[0]))
    x = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        model(x)
        stem, _ = model.patch_embed(x)
    hook.remove()
    grid = stage.pos_embed.transpose(1, 2).reshape(1, 16, 8, 8)
    expected = F.interpolate(grid, size=(12, 10), mode='bilinear')
    torch.testing.assert_close(captured[0],
                               stem + expected.flatten(2).transpose(1, 2))


def test_drop_path_rises_linearly():
    model = LIT(small_arch('relative'), drop_path_rate=0.3)
    blocks = [model.get_submodule(p) for p in model.block_prefixes()]
    rates = [getattr(b.drop_path, 'drop_prob', 0.) for b in blocks]
    assert rates == pytest.approx(torch.linspace(0, 0.3, len(blocks)).tolist())


def test_bad_arch_values_are_explained():
    arch = small_arch('rotary')
    with pytest.raises(ValueError, match="'position' must be 'absolute'"):
        LIT(arch)
    arch = small_arch('relative')
    arch['depths'] = [1, 1, 1]
    with pytest.raises(ValueError, match="4 values of 'depths'"):
        LIT(arch)


def test_frozen_stage_keeps_its_dtm_and_embeddings_fixed():
    model = LIT(small_arch('absolute'), frozen_stages=2).train()
    assert not model.stages[1].downsample.dconv.conv_offset.weight \
        .requires_grad
    assert not model.stages[1].pos_embed.requires_grad
    assert not model.stages[1].downsample.norm.training
    assert model.stages[2].downsample.dconv.weight.requires_grad
