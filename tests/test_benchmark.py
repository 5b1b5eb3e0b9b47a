# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/benchmark.py runs and computes ratios against its first model (no
timing thresholds: speed is reported, not tested)."""
import os.path as osp
import re
import subprocess
import sys


def test_benchmark_table(repo_root):
    result = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'benchmark.py'),
        'sparse_backbones.LeMeViT:tiny', 'mmpretrain.SwinTransformer:tiny',
        '--batch', '1', '--size', '224', '--repeats', '2', '--warmup', '0',
        '--threads', '1'
    ], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'threads 1' in result.stdout and 'batch 1, 224x224' in result.stdout
    rows = re.findall(r'^\| (\S+) \| ([\d.]+) \| ([\d.]+)-([\d.]+) \| '
                      r'([\d.]+) \|$', result.stdout, flags=re.M)
    assert [r[0] for r in rows] == [
        'sparse_backbones.LeMeViT:tiny', 'mmpretrain.SwinTransformer:tiny'
    ]
    (_, base, *_, base_ratio), (_, other, low, high, ratio) = rows
    assert float(base_ratio) == 1.0
    assert float(low) <= float(other) <= float(high)
    assert abs(float(ratio) - float(other) / float(base)) < 0.01
