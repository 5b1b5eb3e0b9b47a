# Copyright (c) sparse_backbones contributors. All rights reserved.
"""``import sparse_backbones`` works with any subset of the three hosts.

Each case runs in a subprocess whose ``sys.meta_path`` starts with a finder
that raises ``ModuleNotFoundError`` for the hidden hosts (``mmdet``,
``mmseg``, ``mmpretrain`` and their submodules), as if they were not
installed. The child imports the package, builds a backbone from the
remaining host's registry and reports what got registered; the parent
checks that the host's own classes are real and the others are the
placeholders that explain which host is missing.
"""
import json
import subprocess
import sys
import textwrap
from typing import Dict, List, Optional

import pytest

HOSTS = ('mmpretrain', 'mmdet', 'mmseg')

# What each host adds to the package's registries.
HOST_DATASETS = dict(
    mmpretrain=['AIDDataset', 'NWPURESISC45Dataset', 'UCMercedDataset'],
    mmdet=['DOTADataset', 'DOTAv15Dataset', 'ISAIDDataset'],
    mmseg=['ISPRSPotsdamDataset', 'ISPRSVaihingenDataset'])
HOST_MODELS = dict(
    mmpretrain=['DynamicImageClassifier', 'LTMIBClsHead'],
    mmdet=['DynamicMaskRCNN', 'DynamicFasterRCNN'],
    mmseg=['DynamicEncoderDecoder'])
HOST_METRICS = dict(mmpretrain=[], mmdet=[], mmseg=['ISPRSMetric'])
# Registered whatever the hosts.
COMMON = dict(
    MODELS=['LeMeViT', 'DGEDeiT', 'DGEPVT', 'LTMViT', 'LTMSwin', 'LIT',
            'BudgetLoss', 'LTMIBLoss'],
    HOOKS=['FLOPsRatioHook', 'LTMIBHook', 'SafeCheckpointLoadingHook'],
    METRICS=['DOTAMetric'],
    OPTIM_WRAPPER_CONSTRUCTORS=['LayerDecayOptimWrapperConstructor'])

CHILD = '''
import importlib.abc
import json
import sys

HIDDEN = {hidden!r}
HOST = {host!r}


class HideHosts(importlib.abc.MetaPathFinder):
    """Makes the hidden hosts look uninstalled."""

    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in HIDDEN:
            raise ModuleNotFoundError(
                f'No module named {{name!r}} (hidden by the test)',
                name=name)
        return None


sys.meta_path.insert(0, HideHosts())

import sparse_backbones  # noqa: E402
from sparse_backbones import registry as ours  # noqa: E402
from sparse_backbones.models import registered_models  # noqa: E402

facts = dict(registered_models=registered_models(), built={{}})
if HOST:
    import importlib
    from mmengine.registry import DefaultScope
    host_models = importlib.import_module(HOST + '.registry').MODELS
    DefaultScope.get_instance('host_subset', scope_name=HOST)
else:
    from mmengine.registry import MODELS as host_models
for type_name in ('LeMeViT', 'sparse_backbones.LeMeViT'):
    model = host_models.build(dict(type=type_name, arch='tiny'))
    facts['built'][type_name] = [type(model).__name__,
                                 list(model.out_channels)]

facts['registries'] = {{
    name: sorted(getattr(ours, name).module_dict)
    for name in ('MODELS', 'HOOKS', 'METRICS', 'DATASETS',
                 'OPTIM_WRAPPER_CONSTRUCTORS')
}}
datasets = {{}}
for name, cls in ours.DATASETS.module_dict.items():
    mro = [c.__module__ for c in cls.__mro__]
    if any(m.split('.')[0] in ('mmdet', 'mmseg', 'mmpretrain', 'mmengine')
           for m in mro):
        datasets[name] = dict(mro=mro)
        continue
    try:  # a placeholder for a missing host raises on construction
        cls()
    except ImportError as err:
        datasets[name] = dict(placeholder=str(err))
    else:
        datasets[name] = dict(mro=mro)
facts['datasets'] = datasets
facts['hidden_loaded'] = sorted(
    m for m in sys.modules if m.split('.')[0] in HIDDEN)
print('FACTS ' + json.dumps(facts))
'''


def run_child(host: Optional[str]) -> Dict:
    hidden = [h for h in HOSTS if h != host]
    code = CHILD.format(hidden=hidden, host=host)
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, (
        f'import with only {host or "no host"} failed:\n'
        f'{proc.stderr[-4000:]}')
    line = [x for x in proc.stdout.splitlines() if x.startswith('FACTS ')]
    assert line, proc.stdout[-2000:]
    return json.loads(line[-1][len('FACTS '):])


def _check_common(facts: Dict) -> None:
    assert not facts['hidden_loaded'], facts['hidden_loaded']
    for type_name, (cls, channels) in facts['built'].items():
        assert cls == 'LeMeViT', type_name
        assert channels == [64, 128, 192, 320], type_name
    for registry, names in COMMON.items():
        missing = set(names) - set(facts['registries'][registry])
        assert not missing, f'{registry} lacks {missing}'


def _check_hosts(facts: Dict, present: List[str]) -> None:
    for host in HOSTS:
        for name in HOST_DATASETS[host]:
            entry = facts['datasets'][name]
            if host in present:
                assert 'mro' in entry, f'{name}: {entry}'
                assert any(m.startswith(host + '.') for m in entry['mro']), (
                    f'{name} should subclass a {host} dataset: {entry}')
            else:
                assert 'placeholder' in entry, f'{name}: {entry}'
                assert f'{name} needs {host}' in entry['placeholder']
                assert f'Install {host}' in entry['placeholder']
        for name in HOST_MODELS[host] + HOST_METRICS[host]:
            registered = (name in facts['registries']['MODELS']
                          or name in facts['registries']['METRICS'])
            assert registered == (host in present), (
                f'{name} registered={registered} with hosts {present}')
    expected = [
        name for host in HOSTS if host in present
        for name in HOST_MODELS[host] if name.startswith('Dynamic')
    ]
    assert sorted(facts['registered_models']) == sorted(expected)


@pytest.mark.parametrize('host', HOSTS)
def test_single_host(host):
    facts = run_child(host)
    _check_common(facts)
    _check_hosts(facts, [host])


def test_no_host():
    """Only mmengine and mmcv: the backbones, losses, hooks and the DOTA
    metric work; every host dataset is a placeholder."""
    facts = run_child(None)
    _check_common(facts)
    _check_hosts(facts, [])
