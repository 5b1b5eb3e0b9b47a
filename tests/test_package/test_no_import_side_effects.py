# Copyright (c) sparse_backbones contributors. All rights reserved.
"""``import sparse_backbones`` registers classes and changes nothing else.

In a fresh interpreter, the hosts (and the host modules the package reads)
are imported first, so that what they change themselves is not blamed on
us; then global state is recorded before and after ``import
sparse_backbones``. The only change allowed besides the registries is the
documented ``sparse_backbones`` entry of mmengine's ``MODULE2PACKAGE`` (for
``_base_ = 'sparse_backbones::...'`` configs).
"""
import json
import subprocess
import sys
import textwrap

CHILD = '''
import importlib
import json
import logging
import os
import sys
import warnings

import torch
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import DefaultScope

for name in ('mmcv.cnn', 'mmpretrain.datasets', 'mmpretrain.models',
             'mmpretrain.registry', 'mmdet.datasets', 'mmdet.models',
             'mmdet.registry', 'mmseg.datasets', 'mmseg.models',
             'mmseg.evaluation', 'mmseg.registry'):
    importlib.import_module(name)


def snapshot():
    return dict(
        safe_globals=sorted(
            repr(g) for g in torch.serialization.get_safe_globals()),
        module2package=dict(MODULE2PACKAGE),
        environ=dict(os.environ),
        sys_path=list(sys.path),
        default_dtype=str(torch.get_default_dtype()),
        deterministic=torch.are_deterministic_algorithms_enabled(),
        cudnn_benchmark=torch.backends.cudnn.benchmark,
        matmul_precision=torch.get_float32_matmul_precision(),
        num_threads=torch.get_num_threads(),
        grad_enabled=torch.is_grad_enabled(),
        default_scope=sorted(DefaultScope._instance_dict),
        warning_filters=[repr(f) for f in warnings.filters],
        root_log_handlers=[repr(h) for h in logging.getLogger().handlers],
    )


before = snapshot()
import sparse_backbones  # noqa: E402,F401
after = snapshot()
sparse_backbones.enable_safe_checkpoint_loading()
enabled = snapshot()['safe_globals']
print('STATE ' + json.dumps(dict(before=before, after=after,
                                 enabled=enabled)))
'''


def _state() -> dict:
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(CHILD)],
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith('STATE ')]
    assert line, proc.stdout[-2000:]
    return json.loads(line[-1][len('STATE '):])


def test_import_changes_no_global_state():
    state = _state()
    before, after = state['before'], state['after']
    # The test would pass vacuously if the allow-list were empty because
    # nothing installs it: the public call does.
    assert state['enabled'] != before['safe_globals']
    assert any('HistoryBuffer' in g for g in state['enabled'])

    assert after['safe_globals'] == before['safe_globals']
    m2p_before, m2p_after = before.pop('module2package'), after.pop(
        'module2package')
    added = set(m2p_after) - set(m2p_before)
    assert added <= {'sparse_backbones'}, added
    assert {k: m2p_after[k] for k in m2p_before} == m2p_before
    assert after == before
