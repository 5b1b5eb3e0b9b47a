# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The config tree says each value once (configs/README.md).

- No config restates what it inherits: for every config with a ``_base_``
  (task configs and the ``_base_`` fragments that inherit another one), its
  bases are loaded alone and every key path the config itself sets is
  compared with the value found there. A dict that the bases do not have,
  or that replaces theirs (``_delete_=True``), inherits nothing from the
  config tree: what it leaves out comes from the constructor of its
  ``type``, so its keys are compared with that constructor's defaults
  (through ``**kwargs`` up the class hierarchy), except ``type`` and
  ``arch``, which say what is built. A ``_delete_`` dict without
  a ``type`` (e.g. an optimizer's ``paramwise_cfg``) has no class to compare
  with and is not checked; list values are compared whole.
- File names follow the hosts' scheme, with the fields read from what the
  config sets (arch, batch size, schedule, crop).
"""
import ast
import glob
import importlib
import inspect
import os.path as osp
import re
import textwrap

import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from sparse_backbones.benchmark.metafile import is_alias

from tests import REPO_ROOT

CONFIGS_ROOT = osp.join(REPO_ROOT, 'configs')
MISSING = object()
# Registries a typed dict may name a class of, in lookup order.
REGISTRY_NAMES = ('MODELS', 'METRICS', 'HOOKS', 'DATASETS', 'TRANSFORMS',
                  'DATA_SAMPLERS', 'OPTIMIZERS',
                  'OPTIM_WRAPPER_CONSTRUCTORS')
# Keys that say what is built: written even where they equal a default.
ALWAYS_WRITTEN = ('type', 'arch', '_delete_', '_scope_')


def bases_of(path: str) -> list:
    """The ``_base_`` entries of a config file, as written."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_'
                for t in node.targets):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def _rel(path: str) -> str:
    return osp.relpath(path, REPO_ROOT)


ALL_CONFIGS = sorted(
    glob.glob(osp.join(CONFIGS_ROOT, '**', '*.py'), recursive=True))
WITH_BASES = [p for p in ALL_CONFIGS if bases_of(p)]
TASK_CONFIGS = [
    p for p in ALL_CONFIGS
    if '_base_' not in _rel(p).split(osp.sep) and not is_alias(p)
]


def _needs_hosts(path: str, bases: list) -> None:
    """Skip where a host the config inherits from (through any base) is
    not installed (mmrotate exists only on the default stack)."""
    for base in bases:
        if '::' in base:
            pytest.importorskip(base.split('::')[0])
        else:
            parent = osp.normpath(osp.join(osp.dirname(path), base))
            _needs_hosts(parent, bases_of(parent))


def load_bases(path: str, tmp_path) -> ConfigDict:
    """The merged config of ``path``'s bases alone (no own keys)."""
    bases = bases_of(path)
    _needs_hosts(path, bases)
    absolute = [
        b if '::' in b else osp.normpath(osp.join(osp.dirname(path), b))
        for b in bases
    ]
    probe = tmp_path / 'bases_only.py'
    probe.write_text(f'_base_ = {absolute!r}\n')
    return Config.fromfile(str(probe), import_custom_modules=False)._cfg_dict


def own_values(path: str, inherited: ConfigDict) -> dict:
    """What the file itself assigns, evaluated as mmengine does (with
    ``_base_`` bound to the inherited config)."""
    with open(path, encoding='utf-8') as f:
        # mmengine substitutes `{{_base_.name}}` in the text before running
        # the file: the value of the bases.
        tree = ast.parse(
            re.sub(r'\{\{\s*(_base_\.[\w.]+)\s*\}\}', r'\1', f.read()))
    tree.body = [
        node for node in tree.body
        if not (isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == '_base_'
            for t in node.targets))
    ]
    namespace = {'_base_': inherited}
    exec(compile(tree, path, 'exec'), namespace)
    return {
        k: v
        for k, v in namespace.items()
        if not k.startswith('__') and k != '_base_'
        and not inspect.ismodule(v) and not callable(v)
    }


def plain(value):
    """Comparable form: ConfigDicts as dicts, tuples as lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def resolve_type(type_name, scope: str):
    """The class a ``type`` names, from ``scope`` as the runner would."""
    if not isinstance(type_name, str):
        return type_name
    modules = [f'{scope}.registry'] if scope else []
    modules.append('sparse_backbones.registry')
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in REGISTRY_NAMES:
            registry = getattr(module, name, None)
            if registry is None:
                continue
            with DefaultScope.overwrite_default_scope(scope):
                cls = registry.get(type_name)
            if cls is not None:
                return cls
    raise LookupError(f'no registry of {scope} or sparse_backbones knows '
                      f'{type_name!r}')


def constructor_defaults(cls) -> dict:
    """Keyword defaults of ``cls``, following ``**kwargs`` up the MRO."""
    defaults = {}
    for klass in getattr(cls, '__mro__', (cls, )):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())
        for param in params:
            if param.default is not param.empty:
                defaults.setdefault(param.name, param.default)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return defaults


def restated(own: dict, inherited, where: str, scope: str):
    """(key path, message) for every key of ``own`` equal to what it would
    have without it."""
    if isinstance(inherited, dict) and inherited.get('_scope_'):
        scope = inherited['_scope_']
    scope = own.get('_scope_') or scope
    for key, value in own.items():
        if key in ('_delete_', '_scope_'):
            continue
        path = f'{where}.{key}' if where else key
        base = inherited.get(key, MISSING) if isinstance(
            inherited, dict) else MISSING
        if isinstance(value, dict):
            replaces = bool(value.get('_delete_'))
            if not replaces and isinstance(base, dict):
                yield from restated(value, base, path, scope)
            elif 'type' in value:
                yield from against_defaults(value, path, scope)
            elif not replaces:
                yield from restated(value, {}, path, scope)
        elif base is not MISSING and plain(value) == plain(base):
            yield path, f'{value!r} is what the bases already set'


def against_defaults(own: dict, where: str, scope: str):
    scope = own.get('_scope_') or scope
    cls = resolve_type(own['type'], scope)
    defaults = constructor_defaults(cls)
    name = getattr(cls, '__name__', cls)
    for key, value in own.items():
        if key in ALWAYS_WRITTEN:
            continue
        path = f'{where}.{key}'
        if isinstance(value, dict) and 'type' in value:
            yield from against_defaults(value, path, scope)
        elif key in defaults and plain(value) == plain(defaults[key]):
            yield path, f'{value!r} is the default of {name}'


def check(path: str, tmp_path) -> list:
    inherited = load_bases(path, tmp_path)
    own = own_values(path, inherited)
    scope = inherited.get('default_scope', own.get('default_scope'))
    return list(restated(own, inherited, '', scope))


@pytest.mark.parametrize('path', WITH_BASES, ids=_rel)
def test_config_does_not_restate_what_it_inherits(path, tmp_path):
    found = check(path, tmp_path)
    assert not found, f'{_rel(path)} restates: ' + '; '.join(
        f'{p}: {m}' for p, m in found)


def test_checker_reports_restated_keys(tmp_path):
    """The check above fails where it should (key path in the message)."""
    pytest.importorskip('mmdet')
    base = tmp_path / 'base.py'
    base.write_text(
        textwrap.dedent("""
        default_scope = 'mmdet'
        model = dict(type='MaskRCNN', test_cfg=dict(rcnn=dict(nms=0.5)),
                     backbone=dict(type='ResNet', depth=50))
        schedule = [1, 2]
        """))
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(
        textwrap.dedent("""
        _base_ = './base.py'
        model = dict(
            test_cfg=dict(rcnn=dict(nms=0.5)),
            backbone=dict(_delete_=True, type='sparse_backbones.LeMeViT',
                          arch='tiny', with_cp=False, drop_path_rate=0.1),
            aux_losses=dict(budget=dict(type='sparse_backbones.BudgetLoss',
                                        budget=0.3, loss_weight=1.0)))
        schedule = (1, 2)
        """))
    found = dict(check(str(leaf), tmp_path))
    assert set(found) == {
        'model.test_cfg.rcnn.nms', 'model.backbone.with_cp',
        'model.aux_losses.budget.loss_weight', 'schedule'
    }, found
    assert 'default of LeMeViT' in found['model.backbone.with_cp']
    assert 'bases already set' in found['model.test_cfg.rcnn.nms']


# ----------------------------------------------------------------- names --
NAME_PATTERNS = dict(
    cls=re.compile(r'^(?P<model>[a-z0-9]+(?:-[a-z0-9]+)*)_(?P<gpus>\d+)xb'
                   r'(?P<batch>\d+)_(?P<dataset>[a-z0-9]+(?:-[a-z0-9]+)*?)'
                   r'(?:-(?P<res>\d+)px)?\.py$'),
    det=re.compile(r'^(?P<algo>[a-z0-9-]+)_(?P<model>[a-z0-9]+(?:-[a-z0-9]+)*)'
                   r'_(?P<neck>[a-z0-9]+)_(?P<schedule>\d+)x'
                   r'_(?P<dataset>[a-z0-9]+(?:-[a-z0-9]+)*)\.py$'),
    seg=re.compile(r'^(?P<algo>[a-z0-9-]+)_(?P<model>[a-z0-9]+(?:-[a-z0-9]+)*)'
                   r'_(?P<gpus>\d+)xb(?P<batch>\d+)-(?P<iters>\d+)k'
                   r'_(?P<dataset>[a-z0-9]+(?:-[a-z0-9]+)*)'
                   r'-(?P<crop>\d+x\d+)\.py$'))
# mmrotate names its configs as mmdet does, the angle coder in the algo
# (oriented-rcnn-le90_r50_fpn_1x_dota.py).
NAME_PATTERNS['rotated'] = NAME_PATTERNS['det']
# ImageNet pretraining (configs/pretrain/) names its configs as cls does.
NAME_PATTERNS['pretrain'] = NAME_PATTERNS['cls']
TASK_HOSTS = dict(
    cls='mmpretrain',
    pretrain='mmpretrain',
    det='mmdet',
    rotated='mmrotate',
    seg='mmseg')
# The seg {algo} field as mmseg spells it, by decode head type: mmseg names
# its UPerHead configs upernet_* (upernet_r50_4xb4-80k_ade20k-512x512.py).
SEG_ALGOS = dict(UPerHead='upernet')


def seg_algo(head_type: str) -> str:
    """The file-name algorithm of a segmentor with this decode head."""
    name = head_type.split('.')[-1]
    assert name in SEG_ALGOS, f'no file-name algorithm for {head_type!r}: ' \
        'add the one mmseg names its configs with to SEG_ALGOS'
    return SEG_ALGOS[name]


def test_every_task_config_is_named_and_the_entry_point_kept():
    names = {_rel(p) for p in TASK_CONFIGS}
    assert osp.join('configs', 'det',
                    'mask-rcnn_lemevit-tiny_fpn_1x_dota.py') in names
    assert is_alias(osp.join(CONFIGS_ROOT, 'det', 'lemevit_maskrcnn.py'))
    for task in ('cls', 'det', 'seg'):
        assert any(n.startswith(osp.join('configs', task)) for n in names)


@pytest.mark.parametrize('path', TASK_CONFIGS, ids=_rel)
def test_config_name_says_what_the_config_sets(path):
    task = _rel(path).split(osp.sep)[1]
    match = NAME_PATTERNS[task].match(osp.basename(path))
    assert match, f'{_rel(path)} does not follow the {task} scheme of ' \
        'configs/README.md'
    pytest.importorskip(TASK_HOSTS[task])
    cfg = Config.fromfile(path)
    fields = match.groupdict()
    backbone = cfg.model.backbone
    assert fields['model'].endswith(f'-{backbone.arch}'), \
        (fields['model'], backbone.arch)
    method = fields['model'][:-len(backbone.arch) - 1].replace('-', '')
    assert method == backbone.type.split('.')[-1].lower(), method
    if task in ('cls', 'pretrain'):
        assert int(fields['batch']) == cfg.train_dataloader.batch_size
        crop = [
            t for t in cfg.train_dataloader.dataset.pipeline
            if t['type'].endswith('RandomResizedCrop')
        ][0]['scale']
        assert int(fields['res'] or 224) == crop
    elif task == 'det':
        assert fields['algo'] == 'mask-rcnn'
        assert 'MaskRCNN' in cfg.model.type
        assert fields['neck'] == cfg.model.neck.type.lower()
        # mmdet: 1x = 12 epochs; 8xb2 (the default) is left out of the name
        assert int(fields['schedule']) * 12 == cfg.train_cfg.max_epochs
        assert cfg.train_dataloader.batch_size == 2
    elif task == 'rotated':
        algo, angles = fields['algo'].rsplit('-', 1)
        assert algo == 'oriented-rcnn' and cfg.model.rpn_head.type == \
            'OrientedRPNHead'
        assert angles == cfg.angle_version == \
            cfg.model.roi_head.bbox_head.bbox_coder.angle_version
        assert fields['neck'] == cfg.model.neck.type.split('.')[-1].lower()
        assert int(fields['schedule']) * 12 == cfg.train_cfg.max_epochs
        assert fields['dataset'] == 'dota'
    else:
        assert fields['algo'] == seg_algo(cfg.model.decode_head.type)
        assert int(fields['batch']) == cfg.train_dataloader.batch_size
        assert int(fields['iters']) * 1000 == cfg.train_cfg.max_iters
        assert fields['crop'] == 'x'.join(map(str, cfg.crop_size))
        assert 'x'.join(map(str, cfg.model.data_preprocessor.size)) == \
            fields['crop']


def test_entry_point_is_the_canonical_config():
    pytest.importorskip('mmdet')
    alias = Config.fromfile(
        osp.join(CONFIGS_ROOT, 'det', 'lemevit_maskrcnn.py'))
    canonical = Config.fromfile(
        osp.join(CONFIGS_ROOT, 'det', 'mask-rcnn_lemevit-tiny_fpn_1x_dota.py'))
    assert alias.to_dict() == canonical.to_dict()
