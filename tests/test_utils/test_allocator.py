# Copyright (c) sparse_backbones contributors. All rights reserved.
"""glibc malloc settings: freed memory kept for reuse, or given back.

Each check runs in a fresh interpreter, as the settings are process-wide.
"""
import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
    reason='mallopt settings exist only in glibc')

# RSS (MiB) after a 128 MiB block is written and freed, under each setting.
_SCRIPT = """
import json, re, sys
import torch
from sparse_backbones.utils import allocator

def rss_mb():
    with open('/proc/self/status') as f:
        return int(re.search(r'VmRSS:\\s+(\\d+)', f.read()).group(1)) / 1024

assert not allocator.freed_memory_kept()
took = getattr(allocator, sys.argv[1])()
block = torch.ones(32 * 2**20)  # 128 MiB, written
before_free = rss_mb()
del block
print(json.dumps(dict(took=took, kept=allocator.freed_memory_kept(),
                      released=before_free - rss_mb())))
"""


def _run(setting):
    result = subprocess.run([sys.executable, '-c', _SCRIPT, setting],
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_keep_freed_memory_keeps_large_blocks_resident():
    out = _run('keep_freed_memory')
    assert out['took'] and out['kept']
    assert out['released'] < 16  # the 128 MiB stay in the heap for reuse


def test_return_freed_memory_to_os_unmaps_large_blocks():
    out = _run('return_freed_memory_to_os')
    assert out['took'] and not out['kept']
    assert out['released'] > 100
