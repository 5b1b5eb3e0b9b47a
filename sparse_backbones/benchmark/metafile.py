# Copyright (c) sparse_backbones contributors. All rights reserved.
"""OpenMMLab model index: ``configs/<task>/metafile.yml`` and the
top-level ``model-index.yml`` that imports them.

Each config (every ``configs/<task>/*.py``; ``_base_`` fragments and
one-line aliases excluded) becomes one ``Models`` entry, grouped in one
``Collections`` entry per backbone class. ``Metadata`` gives the
backbone's figures at the task's input size (classification 224,
segmentation the config's ``crop_size`` or 512, detection 1024):

- ``Parameters``: parameters of the backbone as the config builds it;
- ``FLOPs``: multiply-adds of the backbone per image, counted by
  :func:`~sparse_backbones.layers.complexity.count_macs` (mmpretrain's
  metafiles also give multiply-adds under this key);
- ``Input Size``, ``Backbone`` (type and arch) and ``Training Data``.

The figures are the backbone's and not the whole model's, so they compare
across the three hosts; heads and necks are in the config.
"""
import ast
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS

from ..layers.complexity import count_macs, count_parameters

TASKS = ('cls', 'pretrain', 'det', 'rotated', 'seg')
TASK_NAMES = dict(
    cls='Image Classification',
    pretrain='Image Classification',
    det='Object Detection',
    rotated='Oriented Object Detection',
    seg='Semantic Segmentation')
DEFAULT_INPUT_SIZE = dict(
    cls=224, pretrain=224, det=1024, rotated=1024, seg=512)
README_URL = 'README.md'


def is_alias(config_path: str) -> bool:
    """Whether a config only inherits one other config and sets nothing
    (``configs/det/lemevit_maskrcnn.py``: a historical name kept for the
    commands that use it). The index lists the config it names instead."""
    with open(config_path, encoding='utf-8') as f:
        body = ast.parse(f.read()).body
    if len(body) != 1 or not isinstance(body[0], ast.Assign):
        return False
    (target, ), value = body[0].targets, body[0].value
    if isinstance(value, (ast.List, ast.Tuple)) and len(value.elts) == 1:
        value = value.elts[0]
    return (isinstance(target, ast.Name) and target.id == '_base_'
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str))


def list_configs(configs_root: str) -> List[str]:
    """Config files under ``configs_root`` (sorted), ``_base_`` fragments
    and aliases (:func:`is_alias`) excluded."""
    paths = glob.glob(osp.join(configs_root, '**', '*.py'), recursive=True)
    return sorted(
        p for p in paths
        if '_base_' not in osp.relpath(p, configs_root).split(os.sep)
        and not is_alias(p))


def task_of(config_path: str, configs_root: str) -> str:
    """The task folder (``cls``, ``det``, ``rotated``, ``seg``) of a config."""
    task = osp.relpath(config_path, configs_root).split(os.sep)[0]
    if task not in TASKS:
        raise ValueError(f'{config_path} is not in a task folder of '
                         f'{configs_root} ({", ".join(TASKS)})')
    return task


def task_from_scope(cfg: Config) -> Optional[str]:
    """The task of a config from its ``default_scope``."""
    return dict(
        mmpretrain='cls', mmdet='det', mmrotate='rotated',
        mmseg='seg').get(cfg.get('default_scope'))


def input_size(cfg: Config, task: str) -> Tuple[int, int]:
    """(H, W) the figures are counted at: ``crop_size`` if the config has
    one (segmentation), else the task's default."""
    crop = cfg.get('crop_size')
    if crop is not None and task == 'seg':
        return tuple(crop) if not isinstance(crop, int) else (crop, crop)
    return (DEFAULT_INPUT_SIZE[task], ) * 2


def backbone_name(backbone_cfg: dict) -> Tuple[str, Optional[str]]:
    """(class name without scope, arch as written or None)."""
    arch = backbone_cfg.get('arch')
    return (backbone_cfg['type'].split('.')[-1],
            arch if isinstance(arch, str) else
            ('custom' if arch is not None else None))


def backbone_complexity(cfg: Config,
                        task: str,
                        cache: Optional[dict] = None) -> Dict[str, object]:
    """Params and MACs of the config's backbone at :func:`input_size`.

    The backbone is built without its ``init_cfg`` (no checkpoint needed)
    under the config's ``default_scope``.

    Args:
        cfg: A loaded config.
        task: ``cls``, ``det``, ``rotated`` or ``seg``.
        cache: Dict reused across calls to skip equal backbones.
    """
    from mmengine.registry import DefaultScope
    backbone_cfg = cfg.model.backbone.to_dict()
    backbone_cfg.pop('init_cfg', None)
    size = input_size(cfg, task)
    key = repr((sorted(backbone_cfg.items()), size, cfg.get('default_scope')))
    if cache is not None and key in cache:
        return cache[key]
    scope = cfg.get('default_scope') or 'mmengine'
    with DefaultScope.overwrite_default_scope(scope):
        backbone = ROOT_MODELS.build(backbone_cfg)
    figures = dict(
        params=count_parameters(backbone),
        macs=count_macs(backbone, (1, 3, *size)),
        input_size=list(size))
    if cache is not None:
        cache[key] = figures
    return figures


def dataset_type(cfg: Config) -> Optional[str]:
    """Class name of the test (else val) dataset of a config."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset', {})
    while 'dataset' in dataset:  # wrappers
        dataset = dataset['dataset']
    dataset_type = dataset.get('type')
    return dataset_type.split('.')[-1] if dataset_type else None


def model_entry(config_path: str,
                repo_root: str,
                configs_root: str,
                cache: Optional[dict] = None,
                results: Optional[Sequence[dict]] = None) -> dict:
    """The ``Models`` entry of one config.

    Args:
        config_path: The config file.
        repo_root: Paths in the entry are relative to it.
        configs_root: The ``configs`` folder.
        cache: See :func:`backbone_complexity`.
        results: ``Results`` entries (``Task``, ``Dataset``, ``Metrics``),
            e.g. from ``tools/collect_results.py --json``.
    """
    cfg = Config.fromfile(config_path)
    task = task_of(config_path, configs_root)
    figures = backbone_complexity(cfg, task, cache)
    type_name, arch = backbone_name(cfg.model.backbone)
    entry = dict(
        Name=osp.splitext(osp.basename(config_path))[0],
        Metadata={
            'FLOPs': int(figures['macs']),
            'Parameters': int(figures['params']),
            'Input Size': 'x'.join(map(str, figures['input_size'])),
            'Backbone': type_name + (f' {arch}' if arch else ''),
            'Training Data': dataset_type(cfg) or 'unknown',
        },
        In_Collection=type_name,
        Config=osp.relpath(config_path, repo_root).replace(os.sep, '/'))
    if results:
        entry['Results'] = list(results)
    return entry


def _yaml_keys(entry: dict) -> dict:
    """OpenMMLab spells the collection key with a space."""
    ordered = {
        'Name': entry['Name'],
        'In Collection': entry['In_Collection'],
        'Metadata': entry['Metadata'],
        'Config': entry['Config'],
    }
    if 'Results' in entry:
        ordered['Results'] = entry['Results']
    return ordered


def build_metafiles(
        repo_root: str,
        configs_root: Optional[str] = None,
        results: Optional[Dict[str, List[dict]]] = None) -> Dict[str, dict]:
    """The metafile contents, by task.

    Args:
        repo_root: Repository root (paths are relative to it).
        configs_root: Defaults to ``<repo_root>/configs``.
        results: ``Results`` lists by config name (stem).
    """
    configs_root = configs_root or osp.join(repo_root, 'configs')
    cache: dict = {}
    metafiles: Dict[str, dict] = {}
    for path in list_configs(configs_root):
        task = task_of(path, configs_root)
        name = osp.splitext(osp.basename(path))[0]
        entry = model_entry(path, repo_root, configs_root, cache,
                            (results or {}).get(name))
        metafile = metafiles.setdefault(task, dict(Collections=[], Models=[]))
        collection = entry['In_Collection']
        if collection not in [c['Name'] for c in metafile['Collections']]:
            readme = osp.join(configs_root, task, 'README.md')
            metafile['Collections'].append(
                dict(
                    Name=collection,
                    Metadata={'Task': TASK_NAMES[task]},
                    README=osp.relpath(readme, repo_root).replace(os.sep,
                                                                  '/')))
        metafile['Models'].append(_yaml_keys(entry))
    return metafiles


HEADER = ('# Generated by tools/gen_metafile.py; do not edit by hand.\n'
          '# Metadata: backbone Parameters and FLOPs (multiply-adds per '
          'image, torch\n# operator counter) at the Input Size.\n')


def write_metafiles(
        repo_root: str,
        configs_root: Optional[str] = None,
        results: Optional[Dict[str, List[dict]]] = None) -> List[str]:
    """Write ``<configs>/<task>/metafile.yml`` and ``model-index.yml``.

    Returns:
        list[str]: The written paths.
    """
    configs_root = configs_root or osp.join(repo_root, 'configs')
    metafiles = build_metafiles(repo_root, configs_root, results)
    written = []
    imports = []
    for task in TASKS:
        path = osp.join(configs_root, task, 'metafile.yml')
        if task not in metafiles:
            continue
        with open(path, 'w') as f:
            f.write(HEADER)
            yaml.safe_dump(metafiles[task], f, sort_keys=False, width=79)
        written.append(path)
        imports.append(osp.relpath(path, repo_root).replace(os.sep, '/'))
    index = osp.join(repo_root, 'model-index.yml')
    with open(index, 'w') as f:
        f.write('# Generated by tools/gen_metafile.py.\n')
        yaml.safe_dump(dict(Import=imports), f, sort_keys=False)
    written.append(index)
    return written


def read_model_index(repo_root: str) -> List[dict]:
    """Every ``Models`` entry of the metafiles ``model-index.yml`` imports.

    Raises:
        FileNotFoundError: when the index or an imported metafile is
            missing, naming it and the command that writes it.
    """
    index = osp.join(repo_root, 'model-index.yml')
    hint = ' (python tools/gen_metafile.py writes it)'
    if not osp.isfile(index):
        raise FileNotFoundError(f'{index} is missing' + hint)
    with open(index) as f:
        imports = yaml.safe_load(f)['Import']
    models = []
    for relative in imports:
        path = osp.join(repo_root, relative)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}, imported by {index}, is '
                                    'missing' + hint)
        with open(path) as f:
            models += yaml.safe_load(f).get('Models', [])
    return models
