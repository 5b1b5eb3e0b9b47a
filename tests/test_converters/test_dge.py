# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Reference (vtpack) and vanilla DeiT / PVT v1 checkpoints load strictly.

The upstream state dicts are generated from the key list of specs/dge.md
section 8 (names and shapes of vtpack's deit_dge.py / pvt_dge.py and of
timm's DeiT / the official PVT v1), filled with random values.
"""
import argparse
import re

import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.backbones import DGEPVT, DGEDeiT
from sparse_backbones.converters import convert_dge
from sparse_backbones.layers.dge import finest_split_bias
from sparse_backbones.utils import unwrap_state_dict

from tests import load_tool

pytestmark = pytest.mark.timeout(300)


def deit_state(dims=192, depth=12, tokens=257, fused_qkv=False, dge=True):
    """vtpack DGE-DeiT (split q/kv, dge.*) or timm DeiT (fused qkv)."""
    shapes = {
        'cls_token': (1, 1, dims),
        'pos_embed': (1, tokens, dims),
        'patch_embed.proj.weight': (dims, 3, 16, 16),
        'patch_embed.proj.bias': (dims, ),
    }
    for i in range(depth):
        p = f'blocks.{i}.'
        shapes.update({
            p + 'norm1.weight': (dims, ),
            p + 'norm1.bias': (dims, )
        })
        if fused_qkv:
            shapes.update({
                p + 'attn.qkv.weight': (3 * dims, dims),
                p + 'attn.qkv.bias': (3 * dims, )
            })
        else:
            shapes.update({
                p + 'attn.q.weight': (dims, dims),
                p + 'attn.q.bias': (dims, ),
                p + 'attn.kv.weight': (2 * dims, dims),
                p + 'attn.kv.bias': (2 * dims, )
            })
        shapes.update({
            p + 'attn.proj.weight': (dims, dims),
            p + 'attn.proj.bias': (dims, ),
            p + 'norm2.weight': (dims, ),
            p + 'norm2.bias': (dims, ),
            p + 'mlp.fc1.weight': (4 * dims, dims),
            p + 'mlp.fc1.bias': (4 * dims, ),
            p + 'mlp.fc2.weight': (dims, 4 * dims),
            p + 'mlp.fc2.bias': (dims, ),
        })
        if dge:
            shapes.update({
                p + 'dge.router.gate.weight': (3, dims),
                p + 'dge.router.gate.bias': (3, )
            })
    shapes.update({
        'norm.weight': (dims, ),
        'norm.bias': (dims, ),
        'head.weight': (1000, dims),
        'head.bias': (1000, )
    })
    state = {k: torch.randn(v) for k, v in shapes.items()}
    if dge:
        for i in range(depth):
            state[f'blocks.{i}.dge.splits'] = torch.tensor([4, 2, 1])
    return state


def pvt_state(depths=(2, 2, 2, 2), img_size=256, dge=True):
    """vtpack DGE-PVT or the official PVT v1 (same names without dge.*)."""
    dims, ratios, srs = (64, 128, 320, 512), (8, 8, 4, 4), (8, 4, 2, 1)
    shapes = {'cls_token': (1, 1, 512)}
    in_dims = 3
    for i in range(4):
        side = img_size // 4 // 2**i
        patch = 4 if i == 0 else 2
        C = dims[i]
        shapes.update({
            f'patch_embed{i + 1}.proj.weight': (C, in_dims, patch, patch),
            f'patch_embed{i + 1}.proj.bias': (C, ),
            f'patch_embed{i + 1}.norm.weight': (C, ),
            f'patch_embed{i + 1}.norm.bias': (C, ),
            f'pos_embed{i + 1}': (1, side * side + (i == 3), C),
        })
        in_dims = C
        for j in range(depths[i]):
            p = f'block{i + 1}.{j}.'
            hidden = C * ratios[i]
            for name, shape in [('norm1', (C, )), ('norm2', (C, )),
                                ('attn.q', (C, C)), ('attn.kv', (2 * C, C)),
                                ('attn.proj', (C, C)),
                                ('mlp.fc1', (hidden, C)),
                                ('mlp.fc2', (C, hidden))]:
                shapes[p + name + '.weight'] = shape
                shapes[p + name + '.bias'] = shape[:1]
            if srs[i] > 1:
                shapes[p + 'attn.sr.weight'] = (C, C, srs[i], srs[i])
                shapes[p + 'attn.sr.bias'] = (C, )
                shapes[p + 'attn.norm.weight'] = (C, )
                shapes[p + 'attn.norm.bias'] = (C, )
            if dge:
                shapes[p + 'dge.router.gate.weight'] = (3, C)
                shapes[p + 'dge.router.gate.bias'] = (3, )
    shapes.update({
        'norm.weight': (512, ),
        'norm.bias': (512, ),
        'head.weight': (1000, 512),
        'head.bias': (1000, )
    })
    state = {k: torch.randn(v) for k, v in shapes.items()}
    if dge:
        for key in [k for k in state if k.endswith('router.gate.weight')]:
            state[key.replace('router.gate.weight', 'splits')] = \
                torch.tensor([4, 2, 1])
    return state


def load_classifier(model, converted):
    converted = dict(converted)
    head = {k: converted.pop(k) for k in ('head.fc.weight', 'head.fc.bias')}
    assert head['head.fc.weight'].shape == (1000, model.out_channels[-1])
    model.load_state_dict(converted, strict=True)


def test_vtpack_dge_deit_loads_strictly():
    official = deit_state()
    model = DGEDeiT('tiny', out_type='cls_token')
    load_classifier(model, convert_dge(official))
    block = model.stages[11].blocks[0]
    assert torch.equal(block.attn.kv.weight,
                       official['blocks.11.attn.kv.weight'])
    assert torch.equal(block.router.weight,
                       official['blocks.11.dge.router.gate.weight'])
    assert torch.equal(model.pos_embed, official['pos_embed'])


def test_vanilla_deit_fused_qkv_at_224_loads_strictly():
    official = deit_state(tokens=197, fused_qkv=True, dge=False)
    model = DGEDeiT('tiny', out_type='cls_token')
    load_classifier(model, convert_dge(official))
    qkv = official['blocks.3.attn.qkv.weight']
    attn = model.stages[3].blocks[0].attn
    assert torch.equal(attn.q.weight, qkv[:192])
    assert torch.equal(attn.kv.weight, qkv[192:])  # k then v
    assert torch.equal(attn.kv.bias, official['blocks.3.attn.qkv.bias'][192:])
    # 14x14 -> 16x16 grid, class-token position kept.
    assert model.pos_embed.shape == (1, 257, 192)
    assert torch.equal(model.pos_embed[:, 0], official['pos_embed'][:, 0])
    # New routers start at the paper's init: the vanilla model.
    for block in model.dge_blocks():
        assert torch.equal(block.router.bias, finest_split_bias())


def test_vtpack_dge_pvt_256_loads_strictly():
    official = pvt_state(depths=(3, 4, 6, 3))
    model = DGEPVT('small', out_type='cls_token')
    load_classifier(model, convert_dge(official))
    assert torch.equal(model.stages[2].blocks[5].attn.sr.weight,
                       official['block3.5.attn.sr.weight'])
    assert torch.equal(model.stages[3].cls_token, official['cls_token'])
    assert torch.equal(model.patch_embed.norm.bias,
                       official['patch_embed1.norm.bias'])
    assert torch.equal(model.stages[1].downsample.proj.weight,
                       official['patch_embed2.proj.weight'])


def test_vanilla_pvt_224_position_embeddings_are_resized():
    official = pvt_state(img_size=224, dge=False)
    converted = convert_dge(official, img_size=256)
    model = DGEPVT('tiny', out_type='cls_token')
    load_classifier(model, converted)
    grid = official['pos_embed2'].reshape(1, 28, 28, 128).permute(0, 3, 1, 2)
    expected = F.interpolate(
        grid, size=(32, 32), mode='bilinear', align_corners=False)
    torch.testing.assert_close(
        model.stages[1].pos_embed,
        expected.permute(0, 2, 3, 1).reshape(1, 1024, 128))
    stage4 = model.stages[3].pos_embed
    assert stage4.shape == (1, 65, 512)  # 7x7 + cls -> 8x8 + cls
    assert torch.equal(stage4[:, 0], official['pos_embed4'][:, 0])


def test_dense_pvt_takes_classification_weights(tmp_path):
    """A detector backbone loads a converted classifier checkpoint (head,
    final norm: ignored) through init_cfg with the backbone. prefix."""
    official = pvt_state()
    checkpoint = tmp_path / 'official.pth'
    torch.save(
        {
            'model': official,
            'epoch': 3,
            'args': argparse.Namespace(model='pvt_dge_s124_tiny_256')
        }, checkpoint)
    converted = tmp_path / 'converted.pth'
    cli = load_tool('model_converters/dge_to_sparse_backbones.py')
    assert cli.main([str(checkpoint), str(converted)]) == 0
    model = DGEPVT(
        'tiny',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(converted), prefix='backbone.'))
    model.init_weights()
    assert torch.equal(model.stages[3].blocks[1].mlp.fc2.weight,
                       official['block4.1.mlp.fc2.weight'])


def test_cli_never_overwrites_without_flag(tmp_path):
    src = tmp_path / 'deit.pth'
    torch.save({'model': deit_state(depth=1)}, src)
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'keep')
    cli = load_tool('model_converters/dge_to_sparse_backbones.py')
    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        cli.main([str(src), str(dst)])
    assert dst.read_bytes() == b'keep'
    with pytest.raises(SystemExit, match='DST is the source'):
        cli.main([str(src), str(src)])
    assert cli.main([str(src), str(dst), '--overwrite']) == 0
    saved = torch.load(dst, weights_only=True)['state_dict']
    assert 'backbone.stages.0.blocks.0.router.weight' in saved
    assert 'head.fc.weight' in saved


def test_conversion_is_idempotent_and_unwraps():
    official = pvt_state()
    once = convert_dge(official)
    assert list(convert_dge(once)) == list(once)
    wrapped = {'model': {f'module.{k}': v for k, v in official.items()}}
    assert list(convert_dge(unwrap_state_dict(wrapped))) == list(once)
    assert not any('splits' in k for k in once)


def test_unknown_layout_is_named(tmp_path):
    with pytest.raises(KeyError, match='not a DeiT or PVT v1 checkpoint'):
        convert_dge({'layers.0.weight': torch.zeros(1)})
    # The CLI names the file and exits; nothing is written.
    src, dst = tmp_path / 'other.pth', tmp_path / 'out.pth'
    torch.save({'model': {'layers.0.weight': torch.zeros(1)}}, src)
    cli = load_tool('model_converters/dge_to_sparse_backbones.py')
    with pytest.raises(
            SystemExit,
            match=f'^error: {re.escape(str(src))} is not a DeiT or PVT v1'):
        cli.main([str(src), str(dst)])
    assert not dst.exists()


@pytest.mark.parametrize('cls,arch,last', [
    (DGEDeiT, dict(embed_dims=32, depth=3, num_heads=2), 2),
    (DGEPVT,
     dict(
         embed_dims=[16, 32, 48, 64],
         depths=[1, 1, 1, 1],
         num_heads=[1, 2, 2, 4]), 3),
])
def test_checkpoints_with_the_old_final_norm_name_load(cls, arch, last,
                                                       tmp_path):
    """Before output norms were norm{i} the final norm was ``norm``: such
    checkpoints of this package load, directly and as Pretrained."""
    model = cls(arch, out_type='cls_token')
    new = model.state_dict()
    assert f'norm{last}.weight' in new and 'norm.weight' not in new
    old = {re.sub(rf'^norm{last}\.', 'norm.', k): v for k, v in new.items()}
    assert 'norm.weight' in old
    loaded = cls(arch, out_type='cls_token')
    loaded.load_state_dict(old, strict=True)  # no metadata: version < 2
    assert torch.equal(
        getattr(loaded, f'norm{last}').weight, old['norm.weight'])
    checkpoint = tmp_path / 'old.pth'
    wrapped = {f'backbone.{k}': v for k, v in old.items()}
    torch.save({'state_dict': wrapped}, checkpoint)
    pretrained = cls(
        arch,
        out_type='cls_token',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.'))
    pretrained.init_weights()
    assert torch.equal(
        getattr(pretrained, f'norm{last}').bias, old['norm.bias'])


def test_upstream_final_norm_becomes_the_last_stage_norm():
    deit = convert_dge(deit_state(depth=4))
    assert 'norm3.weight' in deit and 'norm.weight' not in deit
    pvt = convert_dge(pvt_state())
    assert 'norm3.weight' in pvt and 'norm.weight' not in pvt
