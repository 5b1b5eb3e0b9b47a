# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The OpenMMLab model index: configs/{cls,det,seg}/metafile.yml and
model-index.yml list every config with its backbone's params and MACs
(written by tools/gen_metafile.py)."""
import os.path as osp
import shutil

import pytest
import yaml

from sparse_backbones.backbones import LeMeViT
from sparse_backbones.benchmark.metafile import (TASKS, list_configs,
                                                 read_model_index,
                                                 write_metafiles)
from sparse_backbones.layers.complexity import count_macs

REGENERATE = 'run `python tools/gen_metafile.py` to regenerate'


@pytest.fixture(scope='module')
def listed(repo_root):
    return read_model_index(repo_root)


def test_every_config_is_listed(repo_root, listed):
    # Configs of the task folders the index covers (TASKS; not yet
    # configs/pretrain/).
    configs = {
        osp.relpath(p, repo_root)
        for p in list_configs(osp.join(repo_root, 'configs'))
        if osp.relpath(p, repo_root).split(osp.sep)[1] in TASKS
    }
    missing = configs - {m['Config'] for m in listed}
    assert not missing, f'configs missing from the model index: ' \
        f'{sorted(missing)}; {REGENERATE}'


def test_every_listed_config_exists(repo_root, listed):
    absent = [
        m['Config'] for m in listed
        if not osp.isfile(osp.join(repo_root, m['Config']))
    ]
    assert not absent, f'listed configs that do not exist: {absent}; ' \
        f'{REGENERATE}'
    names = [m['Name'] for m in listed]
    assert len(names) == len(set(names))


def test_entries_carry_params_macs_and_a_collection(repo_root):
    with open(osp.join(repo_root, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    assert imports, 'model-index.yml imports no metafile'
    for relative in imports:
        with open(osp.join(repo_root, relative)) as f:
            metafile = yaml.safe_load(f)
        collections = {c['Name'] for c in metafile['Collections']}
        task = relative.split('/')[1]
        for model in metafile['Models']:
            assert model['Config'].startswith(f'configs/{task}/')
            assert model['In Collection'] in collections
            metadata = model['Metadata']
            assert isinstance(metadata['Parameters'], int)
            assert isinstance(metadata['FLOPs'], int)
            assert metadata['Parameters'] > 0 and metadata['FLOPs'] > 0


def test_generator_counts_the_config_backbone(repo_root, tmp_path):
    """On a repository holding one config: the entry's figures are the
    backbone's as the config builds it, at 224 px for classification."""
    shutil.copytree(
        osp.join(repo_root, 'configs', '_base_'),
        tmp_path / 'configs' / '_base_')
    (tmp_path / 'configs' / 'cls').mkdir()
    shutil.copy(
        osp.join(repo_root, 'configs', 'cls', 'lemevit-tiny_8xb64_aid.py'),
        tmp_path / 'configs' / 'cls')
    written = write_metafiles(str(tmp_path))
    assert sorted(osp.relpath(p, tmp_path) for p in written) == [
        osp.join('configs', 'cls', 'metafile.yml'), 'model-index.yml'
    ]
    (entry, ) = read_model_index(str(tmp_path))
    backbone = LeMeViT('tiny', out_type='avg_featmap', drop_path_rate=0.1)
    assert entry['Name'] == 'lemevit-tiny_8xb64_aid'
    assert entry['Config'] == 'configs/cls/lemevit-tiny_8xb64_aid.py'
    assert entry['Metadata']['Parameters'] == sum(
        p.numel() for p in backbone.parameters())
    assert entry['Metadata']['FLOPs'] == count_macs(backbone, (1, 3, 224, 224))
    assert entry['Metadata']['Input Size'] == '224x224'
    assert entry['In Collection'] == 'LeMeViT'


def test_a_missing_index_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match='tools/gen_metafile.py'):
        read_model_index(str(tmp_path))


def test_entry_point_alias_is_not_listed_twice(repo_root, listed):
    """configs/det/lemevit_maskrcnn.py only inherits the canonical config:
    the index lists that one, under its name."""
    from sparse_backbones.benchmark.metafile import is_alias
    alias = osp.join(repo_root, 'configs', 'det', 'lemevit_maskrcnn.py')
    assert is_alias(alias)
    assert not is_alias(
        osp.join(repo_root, 'configs', 'det',
                 'mask-rcnn_lemevit-tiny_fpn_1x_dota.py'))
    configs = {m['Config'] for m in listed}
    assert 'configs/det/lemevit_maskrcnn.py' not in configs
    assert 'configs/det/mask-rcnn_lemevit-tiny_fpn_1x_dota.py' in configs
