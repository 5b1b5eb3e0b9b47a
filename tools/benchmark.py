# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Inference throughput of backbones, measured side by side in one process.

    python tools/benchmark.py sparse_backbones.LeMeViT:small \
        mmpretrain.SwinTransformer:tiny --batch 16 --size 224 --threads 2

Each MODEL is ``registry_type:arch``, built from mmengine's registry (ours
and the hosts' alike). The models run in turn, repeat after repeat, so that
drifts of a shared machine hit all of them; the table gives the median
images/s, the spread (min-max) and the ratio of medians to the first model.
Ratios from one run are what to compare; absolute figures depend on the
machine, printed with the table.
"""
import argparse
import platform
import statistics
import time
from typing import Dict, List, Optional

import torch
from mmengine.registry import MODELS

import sparse_backbones  # noqa: F401  (registers our backbones)


def build(spec: str) -> torch.nn.Module:
    type_name, _, arch = spec.partition(':')
    cfg = dict(type=type_name)
    if arch:
        cfg['arch'] = arch
    model = MODELS.build(cfg)
    model.eval()  # mmpretrain's Swin returns None from eval(): no chaining
    return model


def measure(specs: List[str], batch: int, size: int, repeats: int,
            warmup: int) -> Dict[str, List[float]]:
    models = {spec: build(spec) for spec in specs}
    inputs = torch.rand(batch, 3, size, size)
    speeds = {spec: [] for spec in specs}
    with torch.inference_mode():
        for model in models.values():
            for _ in range(warmup):
                model(inputs)
        for _ in range(repeats):
            for spec, model in models.items():
                start = time.perf_counter()
                model(inputs)
                speeds[spec].append(batch / (time.perf_counter() - start))
    return speeds


def main(argv: Optional[List[str]] = None) -> Dict[str, List[float]]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', metavar='MODEL',
                        help='registry_type[:arch]; the first is the baseline')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=1)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    speeds = measure(args.models, args.batch, args.size, args.repeats,
                     args.warmup)
    print(f'device: cpu ({platform.processor() or platform.machine()}), '
          f'threads {torch.get_num_threads()}, torch {torch.__version__}, '
          f'batch {args.batch}, {args.size}x{args.size}, inference, '
          f'{args.repeats} repeats')
    baseline = statistics.median(speeds[args.models[0]])
    print('| model | images/s (median) | min-max | ratio |\n|---|---|---|---|')
    for spec, values in speeds.items():
        median = statistics.median(values)
        print(f'| {spec} | {median:.2f} | {min(values):.2f}-'
              f'{max(values):.2f} | {median / baseline:.2f} |')
    return speeds


if __name__ == '__main__':
    main()
