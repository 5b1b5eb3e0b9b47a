# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Where a backbone's CPU time goes: matrix products by kind, and the rest.

``tools/benchmark.py --breakdown`` times every ATen call of a few forward
passes and splits time and multiply-adds into linear layers, attention
products, convolutions and everything else (norms, softmax, copies,
element-wise ops). The last column is the efficiency the model would reach
if everything else took no time, i.e. how much of the gap to the reference
matmul lies in the products themselves (on the AMD CPU of the README,
attention's batched products run at a fifth of oneDNN's linear kernel).
"""
import collections
import statistics
import time
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

from ..layers.complexity import count_macs_by_module
from ..utils.allocator import keep_freed_memory
from .measure import _fastest_gemm
from .zoo import ModelSpec

# ATen names per kind, at the dispatch level the timer sees (composite ops
# such as matmul) and the one the MAC counter sees (bmm, mm).
OP_KINDS = {
    'linear': {'linear', 'addmm', 'mm', '_linear_pointwise'},
    'attention': {
        'matmul', 'bmm', 'baddbmm', 'scaled_dot_product_attention',
        '_scaled_dot_product_flash_attention_for_cpu'
    },
    'convolution': {
        'conv2d', 'convolution', '_convolution', 'mkldnn_convolution',
        '_convolution_pointwise', 'deform_conv2d'
    },
}
OTHER = 'other'
KINDS = (*OP_KINDS, OTHER)


def op_kind(name: str) -> str:
    """The kind of an ATen op name (``'mm'`` -> ``'linear'``)."""
    return next((kind for kind, names in OP_KINDS.items() if name in names),
                OTHER)


class _OpTimer(TorchDispatchMode):
    """Adds each op's wall time to its kind (nested ops are not seen)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: Dict[str, float] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        self.seconds[op_kind(func.overloadpacket.__name__)] += \
            time.perf_counter() - start
        return out


def breakdown(model: nn.Module,
              inputs: torch.Tensor,
              repeats: int = 3) -> Dict[str, object]:
    """Time and MACs of one forward pass of ``model`` by op kind (CPU).

    Returns:
        dict: ``seconds`` (median untimed-op wall time of a pass) and
        ``kinds``: per kind of :data:`KINDS`, ``macs`` and ``seconds``
        (mean per pass, measured with the per-op timer on).
    """
    if inputs.device.type != 'cpu':
        raise ValueError('the breakdown times ops on the host clock; run it '
                         'on CPU (drop --device cuda)')
    macs = collections.Counter()
    by_module = count_macs_by_module(model, inputs)
    for name, count in by_module[''].items():
        macs[op_kind(name)] += count
    # A linear layer's product is 'linear' whichever ATen op ran it
    # (nn.Linear on a non-contiguous 3-D input runs bmm).
    for path, module in model.named_modules():
        if isinstance(module, nn.Linear) and path in by_module:
            for name, count in by_module[path].items():
                macs[op_kind(name)] -= count
                macs['linear'] += count
    with torch.inference_mode():
        model(inputs)  # warm-up
        wall = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(inputs)
            wall.append(time.perf_counter() - start)
        timer = _OpTimer()
        with timer:
            for _ in range(repeats):
                model(inputs)
    return dict(
        seconds=statistics.median(wall),
        kinds={
            kind: dict(macs=macs[kind], seconds=timer.seconds[kind] / repeats)
            for kind in KINDS
        })


def breakdown_table(specs: Sequence[ModelSpec],
                    size: int,
                    mode: str,
                    batch: int,
                    threads: int = 0,
                    repeats: int = 3,
                    deploy: bool = True) -> str:
    """A Markdown table of :func:`breakdown` for every model, against the
    machine's fastest 2048^3 fp32 matrix multiply."""
    if threads:
        torch.set_num_threads(threads)
    keep_freed_memory()
    square = torch.rand(2048, 2048)
    kernel, _, rates = _fastest_gemm(square, square, 'cpu')
    reference = rates[kernel]
    inputs = torch.rand(batch, 3, size, size)
    lines: List[str] = [
        f'{size} px, {mode} mode, batch {batch}, threads '
        f'{torch.get_num_threads()}; reference {kernel}: '
        f'{reference / 1e9:.1f} G MACs/s. Per kind: share of MACs, '
        'ms per pass, G MACs/s.', '',
        '| model | ms | ' + ' | '.join(KINDS[:-1]) +
        ' | other ms | efficiency | if other took 0 ms |',
        '|---' * (len(KINDS) + 4) + '|'
    ]
    for spec in specs:
        result = breakdown(spec.build(mode, size, deploy), inputs, repeats)
        kinds = result['kinds']
        total_macs = sum(k['macs'] for k in kinds.values())
        products = sum(kinds[k]['seconds'] for k in KINDS[:-1])
        cells = []
        for kind in KINDS[:-1]:
            macs, seconds = kinds[kind]['macs'], kinds[kind]['seconds']
            rate = f'{macs / seconds / 1e9:.0f}' if seconds else '-'
            cells.append(f'{macs / total_macs:.0%}, {seconds * 1e3:.0f}, '
                         f'{rate}')
        lines.append(
            f'| {spec.name} | {result["seconds"] * 1e3:.0f} | ' +
            ' | '.join(cells) +
            f' | {kinds[OTHER]["seconds"] * 1e3:.0f}'
            f' | {total_macs / result["seconds"] / reference:.0%}'
            f' | {total_macs / products / reference:.0%} |')
    return '\n'.join(lines)
