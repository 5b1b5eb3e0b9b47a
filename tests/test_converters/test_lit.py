# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Official LIT checkpoints -> LIT: names and shapes of specs/lit.md 5.6."""
import argparse
import os
import pickle
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from sparse_backbones.backbones import LIT
from sparse_backbones.converters import convert_lit
from sparse_backbones.utils import unwrap_state_dict

from tests import load_tool
from tests.payloads import SystemPayload

pytestmark = pytest.mark.timeout(600)

# Official widths, depths, heads and MLP ratios (specs/lit.md section 1).
OFFICIAL = {
    'ti': ([64, 128, 320, 512], [3, 4, 6, 3], [1, 2, 5, 8], [8, 8, 4, 4]),
    's': ([96, 192, 384, 768], [2, 2, 6, 2], [3, 6, 12, 24], [4] * 4),
    'm': ([96, 192, 384, 768], [2, 2, 18, 2], [3, 6, 12, 24], [4] * 4),
    'b': ([128, 256, 512, 1024], [2, 2, 18, 2], [4, 8, 16, 32], [4] * 4),
}
PAPER_PARAMS = {
    'ti': 19_886_272,
    's': 27_973_720,
    'm': 49_372_264,
    'b': 87_292_384
}
BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked',
           'relative_position_index')


def _linear(state, name, out_features, in_features):
    state[f'{name}.weight'] = torch.randn(out_features, in_features)
    state[f'{name}.bias'] = torch.randn(out_features)


def _norm(state, name, channels, batch_norm=False):
    state[f'{name}.weight'] = torch.randn(channels)
    state[f'{name}.bias'] = torch.randn(channels)
    if batch_norm:
        state[f'{name}.running_mean'] = torch.randn(channels)
        state[f'{name}.running_var'] = torch.rand(channels) + 0.5
        state[f'{name}.num_batches_tracked'] = torch.tensor(7)


def _dtm(state, name, in_dims, out_dims):
    state[f'{name}.dconv.weight'] = torch.randn(out_dims, in_dims, 2, 2)
    state[f'{name}.dconv.bias'] = torch.randn(out_dims)
    state[f'{name}.dconv.conv_offset.weight'] = torch.randn(8, in_dims, 2, 2)
    state[f'{name}.dconv.conv_offset.bias'] = torch.randn(8)
    _norm(state, f'{name}.norm_layer', out_dims, batch_norm=True)


def _block(state, name, dims, ratio, attention):
    if attention:
        _norm(state, f'{name}.norm1', dims)
        _linear(state, f'{name}.attn.qkv', 3 * dims, dims)
        _linear(state, f'{name}.attn.proj', dims, dims)
    _norm(state, f'{name}.norm2', dims)
    _linear(state, f'{name}.mlp.fc1', ratio * dims, dims)
    _linear(state, f'{name}.mlp.fc2', dims, ratio * dims)


def official_ti(dense=False):
    """``lit_ti.pth['model']`` (or, dense, the v2.0 backbone: no cls token,
    final norm or head; pos_embed4 keeps its cls row)."""
    dims, depths, _, ratios = OFFICIAL['ti']
    state = {}
    for s, grid in enumerate((56, 28, 14, 7), start=1):
        rows = grid**2 + (s == 4)
        state[f'pos_embed{s}'] = torch.randn(1, rows, dims[s - 1])
    if not dense:
        state['cls_token'] = torch.randn(1, 1, 512)
    state['patch_embed1.proj.weight'] = torch.randn(64, 3, 4, 4)
    state['patch_embed1.proj.bias'] = torch.randn(64)
    _norm(state, 'patch_embed1.norm', 64)
    for s in (2, 3, 4):
        _dtm(state, f'patch_embed{s}', dims[s - 2], dims[s - 1])
    for s in range(4):
        for j in range(depths[s]):
            _block(state, f'block{s + 1}.{j}', dims[s], ratios[s], s >= 2)
    if not dense:
        _norm(state, 'norm', 512)
        _linear(state, 'head', 1000, 512)
    return state


def official_swin_layout(arch, task='cls'):
    """``lit_{s,m,b}.pth['model']``; task 'det'/'seg': the v2.0 backbone
    (output norms 1-3 / 0-3, tables for 800 / 512 px, no index buffers,
    final norm or head)."""
    dims, depths, heads, ratios = OFFICIAL[arch]
    side = {'cls': 224, 'det': 800, 'seg': 512}[task]
    state = {}
    state['patch_embed.proj.weight'] = torch.randn(dims[0], 3, 4, 4)
    state['patch_embed.proj.bias'] = torch.randn(dims[0])
    _norm(state, 'patch_embed.norm', dims[0])
    for i in range(4):
        grid = side // 2**(i + 2)
        for j in range(depths[i]):
            name = f'layers.{i}.blocks.{j}'
            _block(state, name, dims[i], ratios[i], i >= 2)
            if i >= 2:
                state[f'{name}.attn.relative_position_bias_table'] = \
                    torch.randn((2 * grid - 1)**2, heads[i])
                if task == 'cls':
                    state[f'{name}.attn.relative_position_index'] = \
                        torch.randint(0, 10, (grid**2, grid**2))
        if i < 3:
            _dtm(state, f'layers.{i}.downsample', dims[i], dims[i + 1])
    if task == 'cls':
        _norm(state, 'norm', dims[3])
        _linear(state, 'head', 1000, dims[3])
    for i in {'cls': (), 'det': (1, 2, 3), 'seg': (0, 1, 2, 3)}[task]:
        _norm(state, f'norm{i}', dims[i])
    return state


def official(arch, task='cls'):
    if arch == 'ti':
        return official_ti(dense=task != 'cls')
    return official_swin_layout(arch, task)


def parameter_count(state):
    return sum(v.numel() for k, v in state.items() if not k.endswith(BUFFERS))


@pytest.mark.parametrize('arch', sorted(OFFICIAL))
def test_fixtures_match_the_official_totals(arch):
    assert parameter_count(official(arch)) == PAPER_PARAMS[arch]


def load_classifier(arch, state):
    model = LIT(arch, out_type='avg_featmap')
    converted = model.convert_state_dict(dict(state))
    head = {k: converted.pop(k) for k in ('head.fc.weight', 'head.fc.bias')}
    assert head['head.fc.weight'].shape == (1000, model.out_channels[-1])
    model.load_state_dict(converted, strict=True)
    return model


@pytest.mark.parametrize('arch', [
    'ti', 's',
    pytest.param('m', marks=pytest.mark.slow),
    pytest.param('b', marks=pytest.mark.slow)
])
def test_imagenet_checkpoint_loads_strictly(arch):
    state = official(arch)
    model = load_classifier(arch, state)
    if arch == 'ti':
        stage = model.stages[3]
        assert torch.equal(stage.cls_token, state['cls_token'])
        assert torch.equal(stage.cls_pos_embed, state['pos_embed4'][:, :1])
        assert torch.equal(stage.pos_embed, state['pos_embed4'][:, 1:])
        assert torch.equal(model.stages[1].pos_embed, state['pos_embed2'])
        assert torch.equal(model.stages[2].blocks[5].attn.qkv.weight,
                           state['block3.5.attn.qkv.weight'])
        assert torch.equal(model.stages[1].blocks[3].norm2.bias,
                           state['block2.3.norm2.bias'])
        dtm = model.stages[2].downsample
        assert torch.equal(dtm.dconv.conv_offset.weight,
                           state['patch_embed3.dconv.conv_offset.weight'])
        assert torch.equal(dtm.norm.running_var,
                           state['patch_embed3.norm_layer.running_var'])
        assert torch.equal(model.patch_embed.proj.weight,
                           state['patch_embed1.proj.weight'])
    else:
        # DTM at the end of official stage i starts our stage i + 1
        dtm = model.stages[3].downsample
        assert torch.equal(dtm.dconv.weight,
                           state['layers.2.downsample.dconv.weight'])
        assert torch.equal(dtm.norm.weight,
                           state['layers.2.downsample.norm_layer.weight'])
        block = model.stages[2].blocks[1]
        # ImageNet tables fit as they are (27^2 rows at 224)
        assert torch.equal(
            block.attn.relative_position_bias_table,
            state['layers.2.blocks.1.attn.relative_position_bias_table'])
        assert torch.equal(block.mlp.fc1.weight,
                           state['layers.2.blocks.1.mlp.fc1.weight'])
    assert torch.equal(model.norm.weight, state['norm.weight'])


def test_conversion_is_idempotent():
    for state in (official('ti'), official('s', 'det')):
        once = convert_lit(state)
        twice = convert_lit(once)
        assert list(once) == list(twice)
        assert all(torch.equal(once[k], twice[k]) for k in once)


def test_dense_output_norms_keep_their_official_names():
    state = official('s', 'seg')
    converted = convert_lit(state)
    for i in range(4):
        assert torch.equal(converted[f'norm{i}.weight'],
                           state[f'norm{i}.weight'])
    assert not any('out_norm' in k for k in converted)


def save_detector(state, path, prefix='backbone.'):
    weights = {f'{prefix}{k}': v for k, v in state.items()}
    weights['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 96, 1, 1)
    torch.save({'state_dict': weights, 'meta': {'epoch': 12}}, path)


def pretrained(path, **kwargs):
    model = LIT(
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'),
        **kwargs)
    model.init_weights()
    return model


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_dense_checkpoint_tables_are_resized(task, tmp_path):
    state = official('s', task)
    path = tmp_path / f'{task}_lit_s.pth'
    save_detector(state, path)
    model = pretrained(path, arch='s')
    key = 'layers.3.blocks.0.attn.relative_position_bias_table'
    source = state[key]  # 49^2 (det) or 31^2 (seg) rows
    side = int(source.shape[0]**0.5)
    expected = F.interpolate(
        source.t().reshape(1, 24, side, side), size=(13, 13),
        mode='bicubic').flatten(2)[0].t()
    table = model.stages[3].blocks[0].attn.relative_position_bias_table
    torch.testing.assert_close(table, expected)
    # output norms travel; detection has none for stage 0, which keeps its
    # initialisation
    for i in range(4):
        out_norm = getattr(model, f'norm{i}')
        if f'norm{i}.weight' in state:
            assert torch.equal(out_norm.weight, state[f'norm{i}.weight'])
        else:
            assert torch.equal(out_norm.weight, torch.ones(96))
    # a model at the checkpoint's own size takes the tables unchanged
    size = {'det': 800, 'seg': 512}[task]
    native = pretrained(path, arch='s', pretrain_img_size=size)
    assert torch.equal(
        native.stages[3].blocks[0].attn.relative_position_bias_table, source)
    with torch.no_grad():
        outs = native.eval()(torch.rand(1, 3, 96, 64))
    assert [o.shape[1] for o in outs] == [96, 192, 384, 768]


def test_dense_ti_checkpoint_loads(tmp_path):
    state = official('ti', 'det')
    path = tmp_path / 'mask_rcnn_lit_ti.pth'
    save_detector(state, path)
    model = pretrained(path, arch='ti', out_norm_indices=())
    assert torch.equal(model.stages[3].pos_embed, state['pos_embed4'][:, 1:])
    assert not hasattr(model.stages[3], 'cls_token')


def test_imagenet_weights_into_a_dense_model(tmp_path):
    """Classification weights lack output norms; they keep their init."""
    path = tmp_path / 'lit_s.pth'
    torch.save({'model': official('s'), 'epoch': 299}, path)
    model = LIT('s', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    assert torch.equal(model.norm2.weight, torch.ones(384))


@pytest.mark.parametrize('source,target,message', [
    ('s', 'm', r'missing keys.*stages\.2\.blocks\.6\.'),
    ('s', 'ti', r'other shapes.*patch_embed\.proj\.weight: checkpoint '
     r'\(96, 3, 4, 4\) vs model \(64, 3, 4, 4\)'),
    ('ti', 's', r'missing keys.*relative_position_bias_table'),
])
def test_wrong_variant_names_keys_and_shapes(source, target, message,
                                             tmp_path):
    path = tmp_path / f'lit_{source}.pth'
    torch.save({'model': official(source)}, path)
    model = LIT(
        target,
        out_type='avg_featmap',
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(KeyError, match=message):
        model.init_weights()


@pytest.mark.parametrize('wrap', [
    lambda sd: {
        'model': sd,
        'epoch': 3
    },
    lambda sd: {
        'state_dict': {
            f'module.{k}': v
            for k, v in sd.items()
        }
    },
    lambda sd: {
        'state_dict': {
            f'backbone.{k}': v
            for k, v in sd.items()
        }
    },
])
def test_wrappers_and_prefixes(wrap):
    state = official('ti')
    converted = convert_lit(unwrap_state_dict(wrap(state)))
    assert set(converted) == set(convert_lit(state))


def _run_cli(repo_root, *args):
    """Run the converter's main() in this process (no interpreter start)."""
    module = load_tool('model_converters/lit_to_sparse_backbones.py')
    return module.main([str(a) for a in args])


def test_cli_converts_official_training_checkpoints(tmp_path, repo_root):
    """The DeiT-style file carries an argparse namespace; the result loads
    as Pretrained weights and refuses to be overwritten."""
    src = tmp_path / 'lit_ti.pth'
    torch.save(
        {
            'model': official('ti'),
            'epoch': 299,
            'args': argparse.Namespace(model='lit_ti', lr=1e-3)
        }, src)
    dst = tmp_path / 'converted.pth'
    assert _run_cli(repo_root, src, dst) == 0
    saved = torch.load(dst, weights_only=True)['state_dict']
    assert 'backbone.stages.3.cls_token' in saved
    assert saved['head.fc.weight'].shape == (1000, 512)
    model = LIT(
        'ti',
        out_type='avg_featmap',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    model.init_weights()
    for target, message in ((dst, 'exists'), (src, 'source')):
        with pytest.raises(SystemExit, match=message):
            _run_cli(repo_root, src, target)


def test_cli_resizes_tables_to_img_size(tmp_path, repo_root):
    src = tmp_path / 'lit_s.pth'
    torch.save({'model': official('s'), 'epoch': 299}, src)
    dst = tmp_path / 'lit_s_converted.pth'
    assert _run_cli(repo_root, src, dst, '--img-size', 256) == 0
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['pretrain_img_size'] == 256
    # 256 px: a 16x16 stride-16 grid, so 31^2 table rows
    weights = saved['state_dict']
    table = weights[
        'backbone.stages.2.blocks.0.attn.relative_position_bias_table']
    assert table.shape == (31**2, 12)
    assert not any('relative_position_index' in k for k in weights)


def test_cli_refuses_foreign_python_objects(tmp_path, repo_root, monkeypatch):
    """LIT-S/M/B files store a yacs CfgNode: never unpickled, and the
    message says how to extract the weights."""
    yacs = types.ModuleType('yacs')
    yacs.config = types.ModuleType('yacs.config')

    class CfgNode(dict):
        pass

    CfgNode.__module__ = 'yacs.config'
    CfgNode.__qualname__ = 'CfgNode'
    yacs.config.CfgNode = CfgNode
    monkeypatch.setitem(sys.modules, 'yacs', yacs)
    monkeypatch.setitem(sys.modules, 'yacs.config', yacs.config)
    src = tmp_path / 'lit_s.pth'
    torch.save({'model': {}, 'config': CfgNode(BASE_LR=5e-4)}, src)
    with pytest.raises(
            SystemExit, match=r'yacs\.config\.CfgNode.*keep only its weights'):
        _run_cli(repo_root, src, tmp_path / 'out.pth')


@pytest.mark.parametrize('writer', ['zip', 'legacy', 'raw pickle'])
def test_cli_names_the_code_a_file_would_run(tmp_path, repo_root, writer):
    """A file whose unpickling runs code is refused in every format torch
    reads; the message names the global and never offers an unrestricted
    load."""
    src = tmp_path / 'payload.pth'
    payload = {'model': {}, 'payload': SystemPayload('echo unpickled')}
    if writer == 'raw pickle':
        with open(src, 'wb') as f:
            pickle.dump(payload, f)
    else:
        torch.save(
            payload, src, _use_new_zipfile_serialization=writer == 'zip')
    with pytest.raises(SystemExit) as error:
        _run_cli(repo_root, src, tmp_path / 'out.pth')
    message = str(error.value)
    assert f'{os.system.__module__}.system' in message
    assert 'runs whatever code' in message
    assert 'weights_only=False' not in message
    assert 'torch.load(' not in message
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('content, words', [
    ('not a checkpoint', 'is not a checkpoint torch can read'),
    ('', r'is empty \(0 bytes\)'),
])
def test_cli_says_what_a_non_checkpoint_file_is(tmp_path, repo_root,
                                               content, words):
    src = tmp_path / 'notes.pth'
    src.write_text(content)
    with pytest.raises(SystemExit, match=words):
        _run_cli(repo_root, src, tmp_path / 'out.pth')


def test_cli_rejects_a_file_without_lit_weights(tmp_path, repo_root):
    src = tmp_path / 'other.pth'
    torch.save({'state_dict': {'conv.weight': torch.zeros(1)}}, src)
    with pytest.raises(SystemExit, match='holds no LIT weights'):
        _run_cli(repo_root, src, tmp_path / 'out.pth')


def _lemevit_checkpoints():
    from sparse_backbones.backbones import LeMeViT
    from tests.test_converters.test_lemevit import official_tiny_state_dict
    return {
        'an official LeMeViT checkpoint': official_tiny_state_dict(),
        'a LeMeViT checkpoint of sparse_backbones':
        LeMeViT(arch='tiny').state_dict(),
    }


def test_other_models_are_refused():
    """LeMeViT's weights also have stages.* keys: what LIT's have and
    LeMeViT's lack are the Deformable Token Merging (dconv) modules."""
    for name, state in _lemevit_checkpoints().items():
        with pytest.raises(KeyError) as error:
            convert_lit(state)
        message = str(error.value)
        assert message.startswith('the state dict holds no LIT weights: '
                                  f'it is {name}'), message
        assert 'expected the keys of an official LIT checkpoint' in message


def test_pretrained_of_another_model_names_the_file(tmp_path):
    ckpt = tmp_path / 'lemevit.pth'
    torch.save(
        {'model': _lemevit_checkpoints()['an official LeMeViT checkpoint']},
        ckpt)
    model = LIT('ti', init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    with pytest.raises(KeyError) as error:
        model.init_weights()
    assert str(error.value).startswith(
        f'{ckpt} holds no LIT weights: it is an official LeMeViT')
