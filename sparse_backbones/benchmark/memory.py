# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Peak CPU memory of one forward pass, measured in a fresh process.

The resident set size shows a forward pass's peak only if large tensors are
mapped and unmapped as they come and go. In the benchmark process they are
not: glibc keeps freed memory in its heap (told to, for speed, see
:mod:`sparse_backbones.utils.allocator`) and the models measured before,
and the MAC counter's pass, leave plenty of it, which later
forward passes reuse without the RSS moving. So each model is measured in
its own process that fixes glibc's thresholds first (every tensor above
64 KiB is then mapped on allocation and returned on free) and reports the
peak RSS of one forward pass above the RSS before it (after one settling
pass)::

    python -m sparse_backbones.benchmark.memory '{"cfg": {...}, "batch": 16,
        "size": 224, "threads": 2, "channels_last": false}'

prints ``{"peak_memory_mb": ...}`` as its last line.
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Optional

import torch

from ..utils.allocator import return_freed_memory_to_os


def _proc_status_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'{field}:\s+(\d+)', f.read()).group(1))


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def rss_peak_mb(run) -> Optional[float]:
    """Peak RSS during ``run()`` above the RSS before it, in MiB; None
    where /proc does not allow resetting the peak."""
    if not _reset_peak_rss():
        return None
    before = _proc_status_kb('VmRSS')
    run()
    return max(_proc_status_kb('VmHWM') - before, 0) / 1024


def measure_in_subprocess(cfg: dict,
                          batch: int,
                          size: int,
                          threads: Optional[int],
                          channels_last: bool,
                          deploy: bool = True,
                          dtype: str = 'fp32',
                          timeout: float = 600) -> Optional[float]:
    """Run this module on ``cfg`` in a fresh interpreter; its peak in MiB.

    Raises:
        RuntimeError: when the child fails, with the tail of its output.
    """
    request = json.dumps(
        dict(
            cfg=cfg,
            batch=batch,
            size=size,
            threads=threads,
            channels_last=channels_last,
            deploy=deploy,
            dtype=dtype))
    env = dict(os.environ)
    package_root = osp.dirname(osp.dirname(osp.dirname(__file__)))
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (package_root, env.get('PYTHONPATH')) if p)
    proc = subprocess.run(
        [sys.executable, '-m', 'sparse_backbones.benchmark.memory', request],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env)
    if proc.returncode != 0:
        raise RuntimeError('memory measurement failed: ' +
                           (proc.stderr or proc.stdout)[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])['peak_memory_mb']


def main(argv=None) -> None:
    request = json.loads((argv or sys.argv[1:])[0])
    if not return_freed_memory_to_os():
        print(
            'glibc malloc not found: the RSS peak may be hidden by reused '
            'heap memory',
            file=sys.stderr)
    if request.get('threads'):
        torch.set_num_threads(request['threads'])
    from mmengine.registry import MODELS

    from .. import backbones  # registers our backbones
    model = MODELS.build(request['cfg'])
    model.eval()
    if request.get('deploy', True):
        backbones.deploy(model)
    size = request['size']
    inputs = torch.rand(request['batch'], 3, size, size)
    if request['channels_last']:
        model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    from .measure import autocast_context
    with torch.inference_mode(), autocast_context(
            'cpu', request.get('dtype', 'fp32')):
        model(inputs)  # settles lazily built buffers and kernels
        peak = rss_peak_mb(lambda: model(inputs))
    print(json.dumps(dict(peak_memory_mb=peak)))


if __name__ == '__main__':
    main()
