# Copyright (c) sparse_backbones contributors. All rights reserved.
"""A user's project inherits our configs by package name.

``_base_ = ['sparse_backbones::<task>/<config>.py']`` in a config outside
the repository, parsed in a fresh interpreter whose working directory is a
temporary folder, after ``import sparse_backbones`` (the one line a user's
script needs, configs/README.md). The child builds the model under the
config's default scope, the evaluator, and the training dataset's pipeline
(``lazy_init``: no data needed), and reports where each class came from:
the ``_scope_='sparse_backbones'`` that mmengine puts on the inherited
dicts must not make a host type resolve to another class (mmcv's
``LoadAnnotations`` for mmdet's) or fail.

The installed package as ``pip install -e .`` left it (``.mim`` symlinks
into the repository), and, in a ``slow`` test, as a wheel built from a
copy of the working tree and installed into a folder that comes first on
``PYTHONPATH``.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest

from sparse_backbones.utils import mim

from tests import REPO_ROOT

TIMEOUT = 600

# (config, host, model class, backbone class, a transform of the training
# pipeline and the host module it must come from)
CASES = [
    ('det/mask-rcnn_lemevit-tiny_fpn_1x_dota.py', 'mmdet', 'MaskRCNN',
     'LeMeViT', 'LoadAnnotations', 'mmdet.'),
    ('seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py', 'mmseg',
     'EncoderDecoder', 'LeMeViT', 'LoadAnnotations', 'mmseg.'),
    ('cls/lemevit-tiny_8xb64_aid.py', 'mmpretrain', 'ImageClassifier',
     'LeMeViT', 'RandomResizedCrop', 'mmpretrain.'),
]

CHILD = r'''
import importlib
import json
import sys

import sparse_backbones  # noqa: F401  (registers `sparse_backbones::`)
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DATASETS, init_default_scope

cfg = Config.fromfile(sys.argv[1])
init_default_scope(cfg.default_scope)
host = importlib.import_module(cfg.default_scope + '.registry')
model = host.MODELS.build(cfg.model)
evaluator = Evaluator(cfg.val_evaluator)
dataset_cfg = cfg.train_dataloader.dataset.copy()
dataset_cfg['lazy_init'] = True
dataset = DATASETS.build(dataset_cfg)
print('RESULT ' + json.dumps(dict(
    package=sparse_backbones.__file__,
    # cfg.text: each parsed file's path, then its content
    files=[line for line in cfg.text.splitlines()
           if line.startswith('/') and line.endswith('.py')],
    model=type(model).__name__,
    backbone=type(model.backbone).__name__,
    drop_path_rate=cfg.model.backbone.drop_path_rate,
    metrics=[type(m).__module__ + '.' + type(m).__name__
             for m in evaluator.metrics],
    dataset=type(dataset).__module__ + '.' + type(dataset).__name__,
    transforms=[type(t).__module__ + '.' + type(t).__name__
                for t in dataset.pipeline.transforms])))
'''


def run_user_config(tmp_path, config: str, env_extra=None) -> dict:
    """Write a user's config inheriting ``config`` and run the child on it
    from ``tmp_path`` (the repository is not on ``sys.path``)."""
    project = tmp_path / 'my_project'
    project.mkdir(exist_ok=True)
    user_config = project / 'my_config.py'
    user_config.write_text(
        textwrap.dedent(f"""
        _base_ = ['sparse_backbones::{config}']
        # what a user changes
        model = dict(backbone=dict(drop_path_rate=0.05))
        """))
    script = project / 'child.py'
    script.write_text(CHILD)
    env = {
        k: v
        for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PWD')
    }
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, str(script),
                           str(user_config)],
                          cwd=str(project),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [x for x in proc.stdout.splitlines() if x.startswith('RESULT ')]
    assert lines, proc.stdout[-2000:]
    return json.loads(lines[-1][len('RESULT '):])


def check_result(result, config, host, model, backbone, transform, module,
                 package_dir):
    assert result['model'] == model
    assert result['backbone'] == backbone
    assert result['drop_path_rate'] == 0.05
    # the inherited file is the installed package's .mim/configs/ one
    mim_config = osp.join(package_dir, '.mim', 'configs',
                          *config.split('/'))
    assert osp.normpath(mim_config) in map(osp.normpath, result['files']), \
        result['files']
    assert result['metrics'], result
    assert all(m.startswith(('mmdet.', 'mmseg.', 'mmpretrain.',
                             'sparse_backbones.')) for m in result['metrics'])
    assert result['dataset'].startswith('sparse_backbones.')
    # every host transform is the host's own class, not mmcv's namesake
    match = [t for t in result['transforms'] if t.endswith('.' + transform)]
    assert match and match[0].startswith(module), result['transforms']


@pytest.mark.parametrize('config,host,model,backbone,transform,module',
                         CASES,
                         ids=[c[0].split('/')[0] for c in CASES])
def test_user_config_inherits_ours_by_package_name(tmp_path, config, host,
                                                   model, backbone,
                                                   transform, module):
    pytest.importorskip(host)
    mim_dir = osp.join(mim.package_dir(), '.mim')
    assert osp.isfile(osp.join(mim_dir, 'model-index.yml')) and osp.isdir(
        osp.join(mim_dir, 'configs')), (
            f'{mim_dir} is missing: `pip install -e .` (make install) '
            'writes it (setup.py)')
    result = run_user_config(tmp_path, config)
    assert osp.realpath(osp.dirname(result['package'])) == osp.realpath(
        mim.package_dir())
    check_result(result, config, host, model, backbone, transform, module,
                 mim.package_dir())


def test_import_registers_the_package_with_mmengine():
    from mmengine.config.utils import MODULE2PACKAGE
    from mmengine.utils import get_installed_path, is_installed
    name = MODULE2PACKAGE['sparse_backbones']
    assert is_installed(name)
    assert osp.realpath(get_installed_path(name)) == osp.realpath(
        mim.package_dir())


def test_fallback_name_finds_the_imported_package(monkeypatch, tmp_path):
    """Where the distribution's location has no package folder (a PEP 660
    editable install), mmengine is sent to the imported package."""
    import importlib.metadata

    from mmengine.utils import get_installed_path, is_installed

    class Elsewhere:

        def locate_file(self, path):
            return tmp_path / path

    real_distribution = importlib.metadata.distribution

    def distribution(name):
        # Only our distribution moves; other names resolve as they do (the
        # fork's mmengine looks them up through importlib.metadata too).
        if name == mim.PACKAGE:
            return Elsewhere()
        return real_distribution(name)

    monkeypatch.setattr(importlib.metadata, 'distribution', distribution)
    name = mim._installed_name()
    assert name != mim.PACKAGE
    assert is_installed(name)
    assert osp.realpath(get_installed_path(name)) == osp.realpath(
        mim.package_dir())


def _copy_tree(dst):
    """The working tree (what a clone + edits holds), without the build
    products and environment."""
    ignore = shutil.ignore_patterns('.git', '.venv', 'work_dirs', 'data',
                                    '__pycache__', '*.egg-info', '.mim',
                                    'build', 'dist', '.pytest_cache')
    shutil.copytree(REPO_ROOT, dst, ignore=ignore, symlinks=True)


@pytest.mark.slow
def test_user_config_inherits_ours_from_a_wheel(tmp_path):
    """Slow (builds and installs a wheel, ~1 min): the configs ship in the
    wheel's ``sparse_backbones/.mim``."""
    for host in ('mmdet', 'mmseg', 'mmpretrain'):
        pytest.importorskip(host)
    source, wheels, site = (tmp_path / 'src', tmp_path / 'wheels',
                            tmp_path / 'site')
    _copy_tree(source)
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']

    def run_pip(*command):
        proc = subprocess.run(pip + list(command),
                              capture_output=True,
                              text=True,
                              timeout=TIMEOUT)
        assert proc.returncode == 0, proc.stderr[-3000:]

    run_pip('wheel', '--no-deps', '--no-build-isolation', '-w', str(wheels),
            str(source))
    # Listed once the wheel exists (not when the commands are written).
    built = [str(w) for w in wheels.glob('*.whl')]
    assert len(built) == 1, built
    run_pip('install', '--no-deps', '--target', str(site), *built)
    package_dir = site / 'sparse_backbones'
    assert (package_dir / '.mim' / 'model-index.yml').is_file()
    assert not (package_dir / '.mim' / 'configs').is_symlink()
    assert not (source / 'sparse_backbones' / '.mim').exists(), \
        'building the wheel wrote into the source tree'
    for config, host, model, backbone, transform, module in CASES:
        result = run_user_config(
            tmp_path, config, env_extra={'PYTHONPATH': str(site)})
        assert osp.dirname(result['package']) == str(package_dir)
        check_result(result, config, host, model, backbone, transform,
                     module, str(package_dir))
