# Copyright (c) sparse_backbones contributors. All rights reserved.
"""``import sparse_backbones`` registers classes and changes nothing else.

In a fresh interpreter, the hosts (and the host modules the package reads)
are imported first, so that what they change themselves is not blamed on
us; then global state is recorded before and after ``import
sparse_backbones``. The only change allowed besides the registries is the
documented ``sparse_backbones`` entry of mmengine's ``MODULE2PACKAGE`` (for
``_base_ = 'sparse_backbones::...'`` configs), and on the maintained fork
the documented shims of ``sparse_backbones/utils/fork_shims.py`` (there
``mmdet.datasets`` cannot be imported before them: that is shim 3).
"""
import json
import subprocess
import sys
import textwrap

CHILD = '''
import importlib
import importlib.metadata
import json
import logging
import os
import sys
import warnings

import numpy as np
import torch
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import DefaultScope
from mmengine.runner import checkpoint

try:
    importlib.metadata.version('onedl-mmengine')
    FORK = True
except importlib.metadata.PackageNotFoundError:
    FORK = False

for name in ('mmcv.cnn', 'mmpretrain.datasets', 'mmpretrain.models',
             'mmpretrain.registry', 'mmdet.datasets', 'mmdet.models',
             'mmdet.registry', 'mmseg.datasets', 'mmseg.models',
             'mmseg.evaluation', 'mmseg.registry'):
    if FORK and name == 'mmdet.datasets':
        continue  # needs shim 3 (numpy.sctypes for imgaug)
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
        mmengine_loader=getattr(checkpoint, '_safe_torch_load',
                                None).__qualname__
        if hasattr(checkpoint, '_safe_torch_load') else None,
        numpy_sctypes=hasattr(np, 'sctypes'),
    )


before = snapshot()
import sparse_backbones  # noqa: E402,F401
after = snapshot()
sparse_backbones.enable_safe_checkpoint_loading()
enabled = snapshot()['safe_globals']
print('STATE ' + json.dumps(dict(before=before, after=after,
                                 enabled=enabled, fork=FORK)))
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
    changed = {k for k in m2p_before if m2p_after[k] != m2p_before[k]}
    if state['fork']:
        # Shim 1: mmseg's distribution is onedl-mmsegmentation.
        assert changed == {'mmseg'} and m2p_after['mmseg'] == 'mmseg'
        # Shim 2: mmengine's checkpoint loader, weights_only=True always.
        assert after.pop('mmengine_loader') == 'weights_only_torch_load'
        before.pop('mmengine_loader')
        # Shim 3: numpy.sctypes for imgaug, only where numpy lacks it.
        assert after.pop('numpy_sctypes')
        before.pop('numpy_sctypes')
    else:
        assert not changed, changed
    assert after == before
