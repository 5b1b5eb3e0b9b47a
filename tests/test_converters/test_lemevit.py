# Copyright (c) sparse_backbones contributors. All rights reserved.
import os.path as osp
import subprocess
import sys

import pytest
import torch

from sparse_backbones.backbones import LeMeViT
from sparse_backbones.converters import convert_lemevit
from sparse_backbones.utils import unwrap_state_dict

KEYS_FILE = osp.join(osp.dirname(__file__), 'data',
                     'lemevit_tiny_official_keys.txt')


def official_tiny_state_dict():
    """Random tensors with the official LeMeViT-Tiny names and shapes."""
    state = {}
    with open(KEYS_FILE) as f:
        for line in f:
            if line.startswith('#'):
                continue
            key, *shape = line.split()  # scalars have no shape field
            shape = [int(s) for s in shape[0].split(',')] if shape else []
            state[key] = (torch.randint(0, 10, shape) if key.endswith(
                'num_batches_tracked') else torch.randn(shape))
    return state


def test_fixture_matches_the_official_totals():
    state = official_tiny_state_dict()
    assert len(state) == 313  # specs/lemevit.md 5.4
    params = sum(v.numel() for k, v in state.items()
                 if not k.endswith(('running_mean', 'running_var',
                                    'num_batches_tracked')))
    assert params == 8_635_816


def test_official_tiny_loads_strictly():
    official = official_tiny_state_dict()
    converted = convert_lemevit(official)
    model = LeMeViT('tiny', out_type='avg_featmap')
    head = {k: converted.pop(k) for k in ('head.fc.weight', 'head.fc.bias')}
    assert head['head.fc.weight'].shape == (1000, 320)
    model.load_state_dict(converted, strict=True)
    # values travel with their names
    assert torch.equal(model.stages[0].cross_blocks[0].attn.q.weight,
                       official['stages.0.0.attn.q.weight'])
    assert torch.equal(model.stages[3].blocks[1].mlp.fc2.weight,
                       official['stages.4.1.mlp.3.weight'])
    assert torch.equal(model.stages[1].downsample[0].weight,
                       official['downsample_layers.2.0.weight'])
    assert torch.equal(model.stages[0].meta_proj[3].weight,
                       official['meta_token_downsample.1.3.weight'])
    assert torch.equal(model.meta_norm.weight, official['norm_c.weight'])
    # the classifier's BN is stage 3's output norm, norm3
    assert torch.equal(model.norm3.running_var, official['norm.running_var'])
    assert not any(k.startswith('norm.') for k in converted)


def test_conversion_is_idempotent():
    once = convert_lemevit(official_tiny_state_dict())
    twice = convert_lemevit(once)
    assert list(once) == list(twice)


@pytest.mark.parametrize('wrap', [
    lambda sd: sd,
    lambda sd: {'state_dict': sd, 'optimizer': {}, 'epoch': 3},
    lambda sd: {'state_dict_ema': sd},
    lambda sd: {'model': {f'module.{k}': v for k, v in sd.items()}},
    lambda sd: {'state_dict': {f'backbone.{k}': v for k, v in sd.items()}},
])
def test_wrappers_and_prefixes(wrap):
    official = official_tiny_state_dict()
    converted = convert_lemevit(unwrap_state_dict(wrap(official)))
    assert set(converted) == set(convert_lemevit(official))


def test_dense_model_takes_classification_weights():
    converted = convert_lemevit(official_tiny_state_dict())
    dense = LeMeViT('tiny')
    dense.load_backbone_state_dict(converted)  # extra keys are ignored
    assert torch.equal(dense.patch_embed[0].weight,
                       converted['patch_embed.0.weight'])


def test_cli_converts_and_refuses_to_overwrite(tmp_path, repo_root):
    src = tmp_path / 'lemevit_tiny.pth.tar'
    torch.save({'state_dict': official_tiny_state_dict(), 'epoch': 1}, src)
    dst = tmp_path / 'converted.pth'
    script = osp.join(repo_root, 'tools', 'model_converters',
                      'lemevit_to_sparse_backbones.py')
    run = [sys.executable, script]
    subprocess.run(run + [str(src), str(dst)], check=True, timeout=120)
    saved = torch.load(dst, weights_only=True)['state_dict']
    assert 'backbone.stages.0.cross_blocks.0.attn.q.weight' in saved
    assert 'head.fc.weight' in saved
    model = LeMeViT(
        'tiny',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    model.init_weights()
    for target in (src, dst):
        result = subprocess.run(
            run + [str(src), str(target)],
            capture_output=True,
            text=True,
            timeout=120)
        assert result.returncode != 0
        assert 'exists' in result.stderr or 'source' in result.stderr
