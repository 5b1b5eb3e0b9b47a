# Copyright (c) sparse_backbones contributors. All rights reserved.
"""DGE specifics: sizes, the sparse inference path against the dense one,
padding, statistics and the budget loss."""
import copy

import pytest
import torch
import torch.nn as nn

from sparse_backbones.backbones import DGEPVT, DGEDeiT, DynamicStats
from sparse_backbones.backbones.dge import calibrate_router_bias
from sparse_backbones.layers.dge import (DGEBlock, _pool_queries,
                                         _region_layout, finest_split_bias)
from sparse_backbones.layers import FusedLinear, fused
from sparse_backbones.layers.complexity import count_macs
from sparse_backbones.losses import BudgetLoss

pytestmark = pytest.mark.timeout(300)

DEIT = dict(embed_dims=32, depth=3, num_heads=2)
PVT = dict(
    embed_dims=[16, 32, 48, 64], depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4])
MIXED = (0., 0., 0.)  # router bias under which regions pick all options

# Host parameter counts with a 1000-class head at 224 input: timm's
# deit_{tiny,small,base}_patch16_224 and PVT v1 (paper Table 2: 13.2 /
# 24.5 / 44.2 / 61.4 M). DGE adds 3C + 3 per block.
DEIT_HOST_224 = {'tiny': 5_717_416, 'small': 22_050_664, 'base': 86_567_656}
PVT_PAPER_224 = {
    'tiny': 13.2e6,
    'small': 24.5e6,
    'medium': 44.2e6,
    'large': 61.4e6
}
# The same models at 256 input (position embeddings of 256 / 16 = 16 or
# 256 / 4 = 64, 32, 16, 8 tokens a side) with the DGE routers.
DGE_PARAMS_256 = {
    ('DGEDeiT', 'tiny'): 5_735_884,
    ('DGEDeiT', 'small'): 22_087_564,
    ('DGEDeiT', 'base'): 86_641_420,
    ('DGEPVT', 'tiny'): 13_354_496,
    ('DGEPVT', 'small'): 24_617_432,
    ('DGEPVT', 'medium'): 44_351_228,
    ('DGEPVT', 'large'): 61_522_659,
}
SLOW_ARCHS = {'small', 'base', 'medium', 'large'}


def params_with_head(model) -> int:
    channels = model.out_channels[-1]
    return sum(p.numel() for p in model.parameters()) + channels * 1000 + 1000


def router_params(model) -> int:
    return sum(3 * b.embed_dims + 3 for b in model.dge_blocks())


@pytest.mark.parametrize('cls,arch', [
    pytest.param(
        DGEDeiT if c == 'DGEDeiT' else DGEPVT,
        a,
        marks=[pytest.mark.slow] if a in SLOW_ARCHS else [],
        id=f'{c}-{a}') for c, a in DGE_PARAMS_256
])
def test_parameter_count_is_host_plus_routers(cls, arch):
    model = cls(arch, out_type='cls_token')
    total = params_with_head(model)
    assert total == DGE_PARAMS_256[(cls.__name__, arch)]
    blocks = model.dge_blocks()
    assert len(blocks) == sum(cls.arch_zoo[arch].get('depths', [12]))
    host = cls(arch, out_type='cls_token', img_size=224)
    host_params = params_with_head(host) - router_params(host)
    if cls is DGEDeiT:
        assert host_params == DEIT_HOST_224[arch]
    else:
        assert abs(host_params / PVT_PAPER_224[arch] - 1) < 0.005


@pytest.mark.parametrize('arch,gmacs',
                         [('tiny', 1.7),
                          pytest.param('small', 6.1, marks=pytest.mark.slow)])
def test_static_macs_of_the_host_at_256(arch, gmacs):
    """Every region at the finest split is the vanilla DeiT (README of the
    reference: DeiT-Ti 1.7 G, DeiT-S 6.1 G at 256)."""
    model = DGEDeiT(arch, out_type='cls_token')
    macs = count_macs(model, (1, 3, 256, 256))
    assert float(model.last_stats.flops_ratio.detach()) == 1.0
    routers = 12 * 16 * 3 * model.embed_dims  # 16 regions per block
    assert round((macs - routers) / 1e9, 1) == gmacs


@pytest.mark.parametrize('cls,arch,size', [(DGEDeiT, DEIT, (97, 131)),
                                           (DGEPVT, PVT, (97, 131)),
                                           (DGEPVT, PVT, (128, 128))])
def test_analytic_macs_equal_the_counted_ones(cls, arch, size):
    """last_stats counts what the sparse path really multiplies."""
    model = cls(arch, router_bias=MIXED, out_indices=-1)
    macs = count_macs(model, (1, 3) + size)
    stats = model.last_stats
    assert len({int(g) for gate in stats.gates for g in gate.unique()}) == 3
    stem_macs = count_macs(model.patch_embed, (1, 3) + size)
    stage_macs = 0
    if cls is DGEPVT:  # the later patch embeddings
        H, W = [-(-s // 4) for s in size]
        for stage, dims in zip(model.stages[1:], PVT['embed_dims'][1:]):
            H, W = -(-H // 2), -(-W // 2)
            stage_macs += H * W * dims * stage.downsample.proj.in_channels * 4
    assert macs == stem_macs + stage_macs + round(
        float(stats.dynamic_macs[0].detach()))
    assert float(stats.flops_ratio.detach()) < 1


@pytest.mark.parametrize('cls,arch', [(DGEDeiT, DEIT), (DGEPVT, PVT)])
@pytest.mark.parametrize('size', [(64, 64), (97, 131)])
def test_sparse_inference_equals_dense_argmax(cls, arch, size):
    torch.manual_seed(1)
    sparse = cls(arch, router_bias=MIXED, out_indices=(0, 1, 2)).eval()
    dense = cls(
        arch, router_bias=MIXED, out_indices=(0, 1, 2),
        sparse_inference=False).eval()
    dense.load_state_dict(sparse.state_dict())
    x = torch.rand(3, 3, *size)
    with torch.no_grad():
        outs_sparse = sparse(x)
        stats_sparse = sparse.last_stats
        outs_dense = dense(x)
    choices = torch.cat([g.flatten() for g in stats_sparse.gates])
    assert set(choices.tolist()) == {0, 1, 2}
    for a, b in zip(outs_sparse, outs_dense):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    for a, b in zip(stats_sparse.gates, dense.last_stats.gates):
        assert torch.equal(a, b)
    torch.testing.assert_close(stats_sparse.sample_flops_ratio,
                               dense.last_stats.sample_flops_ratio)


def test_sparse_path_encodes_only_the_selected_queries(monkeypatch):
    model = DGEDeiT(DEIT, router_bias=(-5., -5., 5.)).eval()  # all split 1
    lengths = []
    encode = DGEBlock._encode

    def spy(self, queries, *args):
        lengths.append(queries.shape[1])
        return encode(self, queries, *args)

    monkeypatch.setattr(DGEBlock, '_encode', spy)
    with torch.no_grad():
        model(torch.rand(2, 3, 128, 128))  # 8x8 tokens: 4 regions
    assert lengths == [1 + 4] * 3  # cls + one query per region
    assert float(model.last_stats.flops_ratio) < 0.3


@pytest.mark.parametrize('sparse_inference', [True, False])
def test_deployed_and_reference_layers_agree(sparse_inference, count_calls):
    """switch_to_deploy (fused linear layers) changes no output, on the
    sparse and on the dense inference path."""
    reference = DGEPVT(
        PVT, router_bias=MIXED, sparse_inference=sparse_inference).eval()
    model = copy.deepcopy(reference)
    model.switch_to_deploy()
    assert not any(type(m) is nn.Linear for m in model.modules())
    for block in model.dge_blocks():
        assert isinstance(block.router, FusedLinear)
        assert block.mlp.fc1.activation == 'gelu'
    x = torch.rand(2, 3, 80, 96)
    calls = count_calls(fused, 'ONEDNN_LINEAR')
    with torch.no_grad():
        outs = model(x)
        deployed_stats = model.last_stats
        for a, b in zip(outs, reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(deployed_stats.gates, reference.last_stats.gates):
        assert torch.equal(a, b)
    if fused.ONEDNN_LINEAR is not None:
        assert calls  # the switched model runs the fused kernels


@pytest.mark.parametrize('cls,arch,last', [(DGEDeiT, DEIT, 2),
                                           (DGEPVT, PVT, 3)])
def test_final_norm_is_the_last_stage_norm(cls, arch, last):
    """The final norm is norm{last stage}: the cls token's output is
    norm{last}(x)[:, 0]; DGEDeiT's last block map goes through it too."""
    model = cls(arch, out_type='cls_token').eval()
    norm = getattr(model, f'norm{last}')
    assert not hasattr(model, 'norm')
    seen = []
    norm.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        pooled, = model(x)
        torch.testing.assert_close(pooled, norm(seen[0])[:, 0])
    maps = cls(arch, out_indices=(0, last)).eval()
    maps.load_state_dict(model.state_dict(), strict=False)
    assert hasattr(maps, f'norm{last}') == (cls is DGEDeiT)
    assert not hasattr(cls(arch, out_indices=0), f'norm{last}')
    with torch.no_grad():
        last_map = maps(x)[-1]
    grid = seen[0][:, seen[0].shape[1] - last_map[0, 0].numel():]
    if cls is DGEDeiT:
        grid = norm(grid)
    torch.testing.assert_close(last_map.flatten(2).transpose(1, 2), grid)


def test_finest_split_is_the_vanilla_block():
    """All regions at 16 queries: the plain pre-norm block, padding and
    extra tokens included."""
    block = DGEBlock(32, 2, 4.).eval()
    block.reset_router(torch.tensor([50., -50., -50.]))
    x = torch.randn(2, 1 + 7 * 9, 32)
    with torch.no_grad():
        out, num_queries, choice = block(x, (7, 9))
        key, value = block.attn.keys_values(block.norm1(x), (7, 9), 1)
        attn = block.attn(block.norm1(x), key, value)
        expected = x + attn + block.mlp(block.norm2(x + attn))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert num_queries.tolist() == [64., 64.]  # no query for padding
    assert choice.shape == (2, 2, 3) and not choice.any()
    assert block.macs((7, 9), 1, 64) == block.macs((7, 9), 1, 1 + 63)


def test_router_init_prefers_the_finest_split():
    probs = finest_split_bias().softmax(0)
    torch.testing.assert_close(probs, torch.tensor([0.95, 0.025, 0.025]))
    model = DGEDeiT(DEIT)
    for block in model.dge_blocks():
        assert torch.equal(block.router.bias, finest_split_bias())
        assert block.router.weight.std() < 0.02


def test_pvt_handles_the_7x7_grid_at_224():
    model = DGEPVT(PVT, router_bias=MIXED, drop_path_rate=0.1)
    x = torch.rand(2, 3, 224, 224)
    outs = model.train()(x)
    assert [o.shape[-1] for o in outs] == [56, 28, 14, 7]
    sum(o.mean() for o in outs).backward()
    assert model.last_stats.gates[-1].shape == (2, 2, 2)  # 7x7 -> 2x2
    dense = DGEPVT(PVT, sparse_inference=False).eval()
    dense.load_state_dict(model.state_dict())
    model.eval()
    with torch.no_grad():
        for a, b in zip(model(x), dense(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_stats_before_forward_raise():
    model = DGEDeiT(DEIT)
    with pytest.raises(
            RuntimeError, match='no gate statistics yet.*'
            'forward'):
        model.last_stats


def test_stats_are_reset_by_every_forward():
    model = DGEDeiT(DEIT).eval()
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
        first = model.last_stats
        model(torch.rand(3, 3, 64, 64))
    assert model.last_stats is not first
    assert type(model.last_stats) is DynamicStats
    assert model.last_stats.sample_flops_ratio.shape == (3, )
    with pytest.raises(RuntimeError):
        model(torch.rand(1, 1, 64, 64))  # wrong channels: fails midway
    with pytest.raises(RuntimeError, match='no gate statistics'):
        model.last_stats


def test_eval_stats_hold_no_graph():
    """In eval the stats are detached even with autograd on (MAC counting
    runs so): kept with their graph they would pin every activation of the
    pass; in training the budget loss needs that graph."""
    model = DGEPVT(PVT).eval()
    model(torch.rand(2, 3, 64, 64))
    stats = model.last_stats
    assert stats.flops_ratio.grad_fn is None
    assert stats.dynamic_macs.grad_fn is None
    model.train()
    model(torch.rand(2, 3, 64, 64))
    assert model.last_stats.flops_ratio.grad_fn is not None


@pytest.mark.parametrize('budget', [0., -0.2, 1.01, 2])
def test_budget_outside_0_1_is_rejected(budget):
    with pytest.raises(ValueError, match=r'budget .* \(0, 1\]'):
        BudgetLoss(budget=budget)


def test_budget_loss_value_and_gradient_to_the_routers():
    model = DGEPVT(PVT).train()
    model(torch.rand(2, 3, 64, 64))
    loss = BudgetLoss(budget=0.3, loss_weight=2.0)(model.last_stats)
    ratio = model.last_stats.flops_ratio
    torch.testing.assert_close(loss, 2.0 * (ratio - 0.3)**2)
    loss.backward()
    for block in model.dge_blocks():
        assert block.router.weight.grad.abs().sum() > 0
        assert block.router.bias.grad.abs().sum() > 0
    # Only the cost term: what no router reads gets no gradient.
    assert model.dge_blocks()[-1].mlp.fc1.weight.grad is None
    with pytest.raises(TypeError, match='flops_ratio'):
        BudgetLoss()(object())


def test_realised_cost_follows_the_budget():
    model = DGEDeiT(DEIT)
    x = torch.rand(4, 3, 128, 128)
    ratios = [calibrate_router_bias(model, x, b) for b in (0.9, 0.6, 0.3)]
    assert ratios[0] > ratios[1] > ratios[2]
    assert all(abs(r - b) < 0.1 for r, b in zip(ratios, (0.9, 0.6, 0.3)))


@pytest.mark.parametrize('hw', [(8, 8), (7, 9), (5, 2)])
def test_queries_are_means_of_the_valid_tokens(hw):
    """Option 1 and 2 queries: the mean of each 2x2 / 4x4 patch over its
    real tokens (padding excluded); option 0: the tokens themselves."""
    H, W = hw
    tokens = torch.randn(2, H, W, 5)
    layout = _region_layout(H, W, tokens.device)
    queries = _pool_queries(tokens, layout)
    Hp, Wp = layout.padded_shape
    assert (Hp % 4, Wp % 4) == (0, 0) and Hp - H < 4 and Wp - W < 4
    torch.testing.assert_close(queries[0].view(2, Hp, Wp, 5)[:, :H, :W],
                               tokens)
    for option, w in ((1, 2), (2, 4)):
        expected = torch.zeros(2, Hp // w, Wp // w, 5)
        for i in range(0, H, w):
            for j in range(0, W, w):
                expected[:, i // w, j // w] = tokens[:, i:i + w,
                                                     j:j + w].mean((1, 2))
        torch.testing.assert_close(queries[option].view_as(expected),
                                   expected)


def test_layout_built_under_inference_mode_serves_training():
    """The per-grid index tables are cached; built first under inference
    mode they must still be usable where autograd saves them."""
    model = DGEDeiT(DEIT, router_bias=MIXED)
    x = torch.rand(2, 3, 16 * 11, 16 * 13)
    _region_layout.cache_clear()
    with torch.inference_mode():
        model.eval()(x)
    outs = model.train()(x)
    (outs[-1].sum() + model.last_stats.flops_ratio).backward()
    assert all(b.router.weight.grad is not None for b in model.dge_blocks())
