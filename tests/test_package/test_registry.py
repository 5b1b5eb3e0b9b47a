# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The two spellings of every public class work from the three hosts."""
import subprocess
import sys
import textwrap

import pytest

import sparse_backbones  # noqa: F401
from sparse_backbones import registry as ours

HOSTS = ['mmpretrain', 'mmdet', 'mmseg']
REGISTRIES = ['MODELS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'DATASETS', 'METRICS',
              'HOOKS', 'TRANSFORMS']


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize('host', HOSTS)
def test_prefixed_type_needs_no_import(host):
    out = run_python(f'''
        import sys
        from mmengine.registry import DefaultScope
        from {host}.registry import MODELS
        assert 'sparse_backbones' not in sys.modules
        DefaultScope.get_instance('t', scope_name='{host}')
        model = MODELS.build(dict(type='sparse_backbones.LeMeViT',
                                  arch='tiny'))
        print(type(model).__module__, model.out_channels)
    ''')
    assert 'sparse_backbones.backbones.lemevit (64, 128, 192, 320)' in out


@pytest.mark.parametrize('host', HOSTS)
def test_plain_type_after_custom_imports(host, tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['sparse_backbones'], "
                   'allow_failed_imports=False)\n'
                   f"default_scope = '{host}'\n"
                   "model = dict(type='LeMeViT', arch='small')\n")
    out = run_python(f'''
        from mmengine.config import Config
        from mmengine.registry import DefaultScope
        from {host}.registry import MODELS
        cfg = Config.fromfile({str(cfg)!r})
        DefaultScope.get_instance('t', scope_name=cfg.default_scope)
        print(MODELS.build(cfg.model).out_channels)
    ''')
    assert '(96, 192, 320, 384)' in out


def test_one_class_object_everywhere():
    from mmengine.registry import MODELS as ROOT
    assert ROOT.get('LeMeViT') is ours.MODELS.get('LeMeViT')
    assert ROOT.get('sparse_backbones.LeMeViT') is ours.MODELS.get('LeMeViT')


@pytest.mark.parametrize('host', HOSTS)
def test_no_name_clash_with_host(host):
    import importlib
    host_registry = importlib.import_module(f'{host}.registry')
    for name in REGISTRIES:
        theirs = getattr(host_registry, name)
        theirs.import_from_location()
        clash = set(getattr(ours, name).module_dict) & set(
            theirs.module_dict)
        assert not clash, f'{host}.{name} already has {clash}'
