# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The backbone contract (STYLE.md section 10), for every backbone."""
import copy
import math
import warnings

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

import sparse_backbones
from sparse_backbones.backbones import BaseSparseBackbone, DynamicStats
from sparse_backbones.registry import MODELS
from .cases import CASES

pytestmark = pytest.mark.timeout(300)
IDS = [c.name for c in CASES]


def build(case, **overrides):
    cfg = copy.deepcopy(case.cfg)
    cfg.update(overrides)
    return MODELS.build(cfg)


def test_every_backbone_has_a_case():
    ours = {
        name
        for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, BaseSparseBackbone)
    }
    assert ours, 'no backbone registered'
    assert ours == {c.name for c in CASES}


@pytest.mark.parametrize('case', CASES, ids=IDS)
@pytest.mark.parametrize('out_indices', [(3, ), (0, 1, 2, 3), (-1, ),
                                         (1, 3)])
@pytest.mark.parametrize('size', [(64, 64), (97, 131), (225, 239)])
def test_output_shapes(case, out_indices, size):
    model = build(case, out_indices=out_indices).eval()
    H, W = size
    with torch.no_grad():
        outs = model(torch.rand(2, 3, H, W))
    assert isinstance(outs, tuple)
    assert len(outs) == len(out_indices)
    assert len(model.out_channels) == len(out_indices)
    for out, index, channels in zip(outs, out_indices, model.out_channels):
        stride = case.strides[index]
        assert out.shape == (2, channels, math.ceil(H / stride),
                             math.ceil(W / stride))
        assert torch.isfinite(out).all()
    info = model.feature_info
    assert [i['num_chs'] for i in info] == list(model.out_channels)
    assert [i['reduction'] for i in info] == \
        [case.strides[i] for i in out_indices]


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_pooled_output_says_other_out_indices_are_ignored(case):
    """A pooled output comes from the last stage: out_indices naming
    another stage is replaced with a warning, not silently."""
    if not case.cls_cfg:
        pytest.skip(f'{case.name} has no classification mode')
    with pytest.warns(UserWarning, match=r'out_indices=0 is ignored'):
        model = build(case, **case.cls_cfg, out_indices=0)
    assert model.out_indices == (model.num_stages - 1, )
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        last = build(case, **case.cls_cfg, out_indices=-1)
    assert last.out_indices == (last.num_stages - 1, )


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_classification_output(case):
    if not case.cls_cfg:
        pytest.skip(f'{case.name} has no classification mode')
    model = build(case, **case.cls_cfg).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 96, 80))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (2, model.out_channels[-1])


@pytest.mark.parametrize('case', CASES, ids=IDS)
@pytest.mark.parametrize('mode', ['dense', 'dense_partial', 'cls'])
def test_gradient_reaches_every_parameter(case, mode):
    overrides = {
        'dense': dict(out_indices=(0, 1, 2, 3)),
        # Parameters that only later stages would use must not exist.
        'dense_partial': dict(out_indices=(0, 1)),
        'cls': case.cls_cfg,
    }[mode]
    if mode == 'cls' and not case.cls_cfg:
        pytest.skip(f'{case.name} has no classification mode')
    model = build(case, **overrides).train()
    outs = model(torch.rand(2, 3, 64, 72))
    sum(o.mean() for o in outs).backward()
    no_grad = [
        n for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.isfinite(
            p.grad).all()) and n not in case.allowed_unused
    ]
    assert not no_grad, f'parameters without a finite gradient: {no_grad}'


@pytest.mark.parametrize('case', CASES, ids=IDS)
@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 2, 4])
def test_frozen_stages(case, frozen_stages):
    model = build(case, frozen_stages=frozen_stages)
    model.train()
    frozen = []
    if frozen_stages >= 0:
        frozen += list(model.stem_names)
        frozen += [
            name for i in range(frozen_stages)
            for name in model.stage_module_names(i)
        ]
    for name, param in model.named_parameters():
        is_frozen = any(name == f or name.startswith(f + '.') for f in frozen)
        assert param.requires_grad != is_frozen, name
    for i in range(model.num_stages):
        for name in model.stage_module_names(i):
            assert model.get_submodule(name).training == \
                (i >= frozen_stages), name
    if frozen_stages >= 0:
        stem = [getattr(model, n) for n in model.stem_names]
        assert all(not m.training for m in stem
                   if isinstance(m, torch.nn.Module))


def test_frozen_stages_out_of_range():
    with pytest.raises(ValueError, match='frozen_stages'):
        build(CASES[0], frozen_stages=5)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_norm_eval(case):
    model = build(case, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert all(not m.training for m in bns)
    # Only BatchNorm is frozen; everything else still trains.
    assert all(m.training for m in model.modules()
               if not isinstance(m, _BatchNorm))
    assert build(case, norm_eval=False).train().patch_embed.training


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_with_cp_matches_plain(case):
    x = torch.rand(2, 3, 64, 64)
    results = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = build(case, with_cp=with_cp, out_indices=(0, 1, 2, 3))
        model.eval()  # no dropout/drop-path randomness between the runs
        outs = model(x)
        sum(o.sum() for o in outs).backward()
        grads = [p.grad.clone() for p in model.parameters()]
        results.append((outs, grads))
    (outs0, grads0), (outs1, grads1) = results
    for a, b in zip(outs0, outs1):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads0, grads1):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_with_cp_checkpoints_blocks(case, monkeypatch):
    from torch.utils import checkpoint
    calls = []
    original = checkpoint.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(checkpoint, 'checkpoint', counting)
    model = build(case, with_cp=True).train()
    model(torch.rand(1, 3, 64, 64))
    assert len(calls) == len(model.block_prefixes())
    calls.clear()
    with torch.no_grad():  # nothing to recompute without gradients
        model(torch.rand(1, 3, 64, 64))
    assert not calls


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_eval_is_deterministic(case):
    model = build(case, out_indices=(0, 1, 2, 3)).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(x), model(x)):
            assert torch.equal(a, b)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_bad_arch_messages(case):
    with pytest.raises(KeyError, match='not in default archs.*choose one'):
        build(case, arch='unknown-arch')
    with pytest.raises(KeyError, match='Custom arch .* missing'):
        build(case, arch=dict(embed_dims=[8, 16, 32, 64]))
    cls = MODELS.get(case.cfg['type'].split('.')[-1])
    settings = cls.resolve_arch(case.cfg['arch'])
    for key in cls.per_stage_keys:
        if key in settings:
            short = dict(settings, **{key: settings[key][:-1]})
            with pytest.raises(ValueError,
                               match=f"4 values of '{key}' .one per stage"):
                build(case, arch=short)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_layer_depth(case):
    model = build(case)
    blocks = model.block_prefixes()
    num_layers = len(blocks) + 2
    seen = []
    for name, _ in model.named_parameters():
        depth, total = model.get_layer_depth('backbone.' + name, 'backbone.')
        assert total == num_layers
        assert 0 <= depth < num_layers
        seen.append(depth)
        if any(name.startswith(s) for s in model.stem_names):
            assert depth == 0
    # every block is its own layer, in depth order
    for k, block in enumerate(blocks):
        param = next(n for n, _ in model.named_parameters()
                     if n.startswith(block + '.'))
        assert model.get_layer_depth(param)[0] == k + 1
    assert model.get_layer_depth('head.fc.weight', 'backbone.')[0] == \
        num_layers - 1


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_pretrained_init_with_prefix(case, tmp_path):
    source = build(case)
    ckpt = tmp_path / 'detector.pth'
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['neck.lateral.weight'] = torch.zeros(3)  # not backbone: ignored
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    target = build(
        case,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(ckpt), prefix='backbone.'))
    target.init_weights()
    for (name, a), b in zip(source.state_dict().items(),
                            target.state_dict().values()):
        assert torch.equal(a, b), name


def _shifted(state: dict, by: float) -> dict:
    return {
        k: v + by if v.is_floating_point() else v
        for k, v in state.items()
    }


@pytest.mark.parametrize('layout', ['mmengine', 'timm'])
def test_pretrained_chooses_ema_or_raw_weights(layout, tmp_path):
    """Default: the file's state_dict (ours: the EMA average, which
    mmengine's EMAHook saves there; timm's: the raw weights, as the
    official downstream code takes them); weights='ema'/'raw' picks one."""
    case = CASES[0]
    raw = {f'backbone.{k}': v for k, v in build(case).state_dict().items()}
    ema = _shifted(raw, 1.)
    if layout == 'mmengine':
        checkpoint = dict(
            state_dict=ema,
            ema_state_dict={f'module.{k}': v
                            for k, v in raw.items()} | {
                                'steps': torch.tensor(10)
                            })
        default = ema
    else:
        checkpoint = dict(state_dict=raw, state_dict_ema=ema)
        default = raw
    path = tmp_path / f'{layout}.pth'
    torch.save(checkpoint, path)
    for weights, expected in ((None, default), ('ema', ema), ('raw', raw)):
        init_cfg = dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.')
        if weights:
            init_cfg['weights'] = weights
        target = build(case, init_cfg=init_cfg)
        target.init_weights()
        for name, value in target.state_dict().items():
            assert torch.equal(value, expected[f'backbone.{name}']), (
                weights, name)

    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': raw}, plain)
    with pytest.raises(KeyError, match='holds only one set'):
        build(
            case,
            init_cfg=dict(
                type='Pretrained',
                checkpoint=str(plain),
                prefix='backbone.',
                weights='ema')).init_weights()


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_pretrained_of_other_variant_names_keys(case, tmp_path):
    source = build(case)
    state = {
        k: torch.cat([v, v]) if v.ndim else v
        for k, v in source.state_dict().items()
    }
    ckpt = tmp_path / 'other.pth'
    torch.save(state, ckpt)
    target = build(
        case, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    with pytest.raises(KeyError, match=r'other shapes.*checkpoint \('):
        target.init_weights()


@pytest.mark.parametrize('case', CASES, ids=IDS)
@pytest.mark.parametrize('pooled', [False, True])
def test_switch_to_deploy_matches_reference(case, pooled):
    """The deploy switch swaps in fused layers; the unswitched model is the
    reference it must equal."""
    if pooled and not case.cls_cfg:
        pytest.skip(f'{case.name} has no classification mode')
    overrides = case.cls_cfg if pooled else dict(out_indices=(0, 1, 2, 3))
    reference = build(case, **overrides).eval()
    host = torch.nn.Sequential(copy.deepcopy(reference))  # any host model
    assert sparse_backbones.deploy(host) is host
    switched = host[0]
    assert switched.deployed
    swapped = [
        n for n, m in switched.named_modules()
        if type(m).__name__ in ('FusedLinear', 'FusedConv2d')
    ]
    assert swapped, 'switch_to_deploy swapped no layer'
    assert not any(
        type(m) is torch.nn.Linear for m in switched.modules()), \
        'a plain nn.Linear was left unswitched'
    x = torch.rand(2, 3, 64, 72)
    with torch.no_grad():
        for a, b in zip(switched(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    switched.switch_to_deploy()  # idempotent
    with pytest.raises(RuntimeError, match='deploy.*cannot train'):
        switched.train()


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_output_norms_are_named_by_stage(case):
    """One scheme: norm{i} normalises the output of stage i."""
    model = build(case, out_indices=(0, 1, 2, 3))
    names = [n for n, _ in model.named_modules()]
    assert not [n for n in names if n.endswith('out_norm') or n == 'ln1'
                or n == 'norm'], 'output norm outside the norm{i} scheme'
    for name, _ in model.named_children():
        if name.startswith('norm') and name[4:].isdigit():
            index = int(name[4:])
            assert index < model.num_stages
            assert model.out_norm(index) is getattr(model, name)
            assert name in model.stage_module_names(index)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_last_stats_has_one_type(case):
    model = build(case).eval()
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
    if model.is_dynamic:
        assert type(model.last_stats) is DynamicStats
    else:
        assert model.last_stats is None


@pytest.mark.parametrize('case', CASES, ids=IDS)
@pytest.mark.parametrize('last', [0, 1])
def test_stages_after_the_last_needed_are_not_built(case, last):
    model = build(case, out_indices=(last, ))
    assert model.last_stage == last
    later = [
        name for i in range(last + 1, model.num_stages)
        for name in model.stage_module_names(i)
    ]
    assert not later, f'built but never run: {later[:4]}'
    full = build(case, out_indices=(0, 1, 2, 3))
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel() for p in full.parameters())
