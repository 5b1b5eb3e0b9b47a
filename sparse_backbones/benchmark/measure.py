# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Measuring backbones side by side: params, MACs, speed, memory, efficiency.

All models of a run are built in one process and timed in turn, repeat
after repeat, together with a large fp32 matrix multiply: drifts of a shared
machine then hit every model and the reference alike, and ratios measured
in one run are what to compare.

MACs are counted with :func:`~sparse_backbones.layers.complexity.count_macs`
(torch's dispatcher-level counter), not with mmengine's or fvcore's tracing
counters, which miss ``scaled_dot_product_attention`` and fused kernels.
They are counted on the model in eval mode on the benchmark input itself
(its first ``macs_batch`` images, uniform noise), so for a model whose cost
depends on the data (DGE's router) the figure is the cost realised on that
input, averaged per image.

Peak memory is the peak of one forward pass of the batch above the memory
in use before it: on CPU the resident set size, measured in a fresh process
per model (:mod:`sparse_backbones.benchmark.memory` says why); on CUDA
``max_memory_allocated``.

Efficiency is the achieved multiply-add rate of a model (MACs per image x
images/s) divided by the rate of the reference matrix multiply on the same
device, dtype and threads in the same run.

On CPU, glibc is first told to keep freed memory
(:func:`~sparse_backbones.utils.allocator.keep_freed_memory`), as a tuned
deployment would; otherwise page faults on large activations, not the
models, dominate some timings.
"""
import dataclasses
import platform
import re
import statistics
import sys
import time
import traceback
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..backbones import deploy as deploy_backbones
from ..layers.complexity import (count_macs, count_macs_mmengine,
                                count_parameters)
from ..layers.fused import ONEDNN_LINEAR
from ..utils.allocator import freed_memory_kept, keep_freed_memory
from .memory import measure_in_subprocess
from .zoo import ModelSpec

# Classes of the head that the papers' parameter counts include.
PAPER_NUM_CLASSES = 1000


# --dtype -> the autocast type (None: float32, no autocast).
AUTOCAST_DTYPES = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def autocast_context(device: str, dtype: str):
    """Autocast to ``dtype`` (a key of :data:`AUTOCAST_DTYPES`) on
    ``device``; a null context for fp32."""
    if AUTOCAST_DTYPES[dtype] is None:
        return nullcontext()
    return torch.autocast(device, dtype=AUTOCAST_DTYPES[dtype])


@dataclasses.dataclass
class Settings:
    """How a benchmark run measures.

    Args:
        size: Square input side in pixels.
        mode: ``'cls'`` (classification output) or ``'dense'`` (all stage
            maps); see :mod:`sparse_backbones.benchmark.zoo`.
        batch: Images per forward pass.
        repeats: Timed forward passes per model (interleaved).
        warmup: Untimed forward passes per model first.
        device: ``'cpu'`` or ``'cuda'``.
        threads: CPU threads (``torch.set_num_threads``); None keeps torch's.
        channels_last: Model and input in channels-last memory format.
        dtype: ``'fp32'``, or ``'bf16'``/``'fp16'``: autocast on the device,
            the reference GEMM in that type (CPU bfloat16 uses AVX512-BF16
            or AMX where the CPU has them).
        macs_batch: Images of the benchmark input the MACs are counted on.
        matmul_size: Side of the square reference matrix multiply.
        mmengine_macs: Also count with mmengine's tracing counter.
        memory: Measure peak memory (on CPU in one fresh process per
            model, see :mod:`sparse_backbones.benchmark.memory`).
        deploy: Switch our backbones to their fused inference layers
            (``switch_to_deploy()``), as inference tools do; False times
            the reference layers.
        keep_freed_memory: On CPU, have glibc keep freed memory for reuse
            (:func:`~sparse_backbones.utils.allocator.keep_freed_memory`,
            process-wide) before timing.
    """
    size: int = 224
    mode: str = 'cls'
    batch: int = 16
    repeats: int = 7
    warmup: int = 1
    device: str = 'cpu'
    threads: Optional[int] = None
    channels_last: bool = False
    dtype: str = 'fp32'
    macs_batch: int = 2
    matmul_size: int = 2048
    mmengine_macs: bool = False
    memory: bool = True
    deploy: bool = True
    keep_freed_memory: bool = True

    def check(self) -> None:
        """Raise a ValueError naming the first bad setting."""
        for name in ('size', 'batch', 'repeats', 'macs_batch', 'matmul_size'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got '
                                 f'{getattr(self, name)}')
        if self.warmup < 0:
            raise ValueError(f'warmup must be >= 0, got {self.warmup}')
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got "
                             f'{self.device!r}')
        if self.device == 'cuda' and not torch.cuda.is_available():
            raise ValueError('device cuda: no GPU is visible; use --device '
                             'cpu')
        if self.dtype not in AUTOCAST_DTYPES:
            raise ValueError(f'dtype must be one of {sorted(AUTOCAST_DTYPES)}'
                             f', got {self.dtype!r}')


@dataclasses.dataclass
class Measurement:
    """Figures of one model; per image unless said otherwise.

    Args:
        name: Display name.
        ours: Whether the backbone belongs to this package.
        params: Parameters of the backbone as built for the mode.
        head_params: Parameters of a 1000-class linear head on its last
            output (the papers' counts include one).
        macs: Multiply-adds per image (realised on the benchmark input).
        mmengine_macs: mmengine's count per image, if asked for.
        images_per_s: One value per repeat.
        peak_memory_mb: Peak memory of one forward pass of the batch above
            the memory before it (CPU: resident set size; CUDA: allocated).
        error: Why the model could not be measured.
    """
    name: str
    ours: bool
    params: Optional[int] = None
    head_params: Optional[int] = None
    macs: Optional[float] = None
    mmengine_macs: Optional[float] = None
    images_per_s: List[float] = dataclasses.field(default_factory=list)
    peak_memory_mb: Optional[float] = None
    error: Optional[str] = None

    @property
    def median_images_per_s(self) -> Optional[float]:
        return (statistics.median(self.images_per_s)
                if self.images_per_s else None)


# ------------------------------------------------------------ environment
def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what platform says."""
    try:
        with open('/proc/cpuinfo') as f:
            match = re.search(r'model name\s*:\s*(.+)', f.read())
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(settings: Settings) -> Dict[str, object]:
    """Where and how the run measured (printed with every table)."""
    device = (
        torch.cuda.get_device_name()
        if settings.device == 'cuda' else cpu_name())
    return dict(
        device=f'{settings.device} ({device})',
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        python=platform.python_version(),
        dtype=('float32' if settings.dtype == 'fp32' else
               f'{AUTOCAST_DTYPES[settings.dtype]} (autocast)'.replace(
                   'torch.', '')),
        malloc=('freed memory kept' if freed_memory_kept() else 'default')
        if settings.device == 'cpu' else None)


# ----------------------------------------------------------------- memory
def cuda_peak_memory_mb(run: Callable[[], object]) -> float:
    """``max_memory_allocated`` during ``run()`` above the memory allocated
    before it, in MiB."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


# ------------------------------------------------------------------ timing
def _synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def _timed(run: Callable[[], object], device: str) -> float:
    _synchronize(device)
    start = time.perf_counter()
    run()
    _synchronize(device)
    return time.perf_counter() - start


def _last_channels(outputs) -> int:
    last = outputs[-1] if isinstance(outputs, (tuple, list)) else outputs
    return last.shape[1]


def _prepare(spec: ModelSpec, settings: Settings,
             inputs: torch.Tensor) -> tuple:
    """Build ``spec``, count its params and MACs (on CPU, fp32) as trained,
    i.e. unswitched (folding a BN into its conv drops the BN's parameters),
    then switch it to deploy for timing if ``settings.deploy``."""
    model = spec.build(settings.mode, settings.size, deploy=False)
    macs_inputs = inputs[:settings.macs_batch].float().cpu().contiguous()
    with torch.inference_mode():
        channels = _last_channels(model(macs_inputs[:1]))
    result = Measurement(
        spec.name,
        spec.ours,
        params=count_parameters(model),
        head_params=channels * PAPER_NUM_CLASSES + PAPER_NUM_CLASSES,
        macs=count_macs(model, inputs=macs_inputs) / len(macs_inputs))
    if settings.mmengine_macs:
        try:
            result.mmengine_macs = count_macs_mmengine(
                model, macs_inputs) / len(macs_inputs)
        except Exception as error:  # a cross-check must not stop the run
            print(
                f'mmengine counter failed on {spec.name}: {error!r}',
                file=sys.stderr)
    if settings.deploy:
        deploy_backbones(model)
    model.to(settings.device)
    if settings.channels_last:
        model.to(memory_format=torch.channels_last)
    return model, result


def _fastest_gemm(
        left: torch.Tensor, right: torch.Tensor, device: str
) -> Tuple[str, Callable[[], object], Dict[str, float]]:
    """The machine's reference rate: the faster of ``torch.mm`` and, on CPU
    in fp32, oneDNN's linear kernel (which the fused layers use, and which
    runs large GEMMs about 3x faster than ``torch.mm`` on some CPUs), so
    that efficiency is measured against the best GEMM the device offers.

    Returns:
        tuple: the fastest kernel's name, a call of it, and the MACs/s of
        every candidate from its best of three runs (for the header).
    """
    candidates = {'torch.mm': lambda: torch.mm(left, right)}
    if device == 'cpu' and left.dtype == torch.float32 and \
            ONEDNN_LINEAR is not None:
        bias = torch.zeros(right.shape[0])
        candidates['oneDNN linear'] = lambda: ONEDNN_LINEAR(
            left, right, bias, 'none', [], '')
    best = {}
    for name, run in candidates.items():
        run()  # warm-up
        best[name] = min(_timed(run, device) for _ in range(3))
    name = min(best, key=best.get)
    rates = {k: left.shape[0]**3 / seconds for k, seconds in best.items()}
    return name, candidates[name], rates


def matmul_macs_per_s(seconds: Sequence[float], size: int) -> float:
    """Multiply-adds per second of a ``size``-cubed matrix multiply."""
    return size**3 / statistics.median(seconds)


def run_benchmark(specs: Sequence[ModelSpec],
                  settings: Settings) -> Dict[str, object]:
    """Measure ``specs`` under ``settings`` in this process.

    A model that fails to build or run gets its error recorded and the
    others are still measured.

    Returns:
        dict: ``environment``, ``settings``, ``matmul`` (size, seconds per
        repeat, MACs/s) and ``models`` (:class:`Measurement` as dicts, in
        the order of ``specs``).
    """
    settings.check()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = settings.device
    memory_format = (
        torch.channels_last
        if settings.channels_last else torch.contiguous_format)
    inputs = torch.rand(settings.batch, 3, settings.size, settings.size)
    models: Dict[str, nn.Module] = {}
    results: List[Measurement] = []
    for spec in specs:
        try:
            model, result = _prepare(spec, settings, inputs)
            models[spec.name] = model
        except Exception as error:
            traceback.print_exc()
            result = Measurement(spec.name, spec.ours, error=repr(error))
        results.append(result)
    inputs = inputs.to(device).contiguous(memory_format=memory_format)
    autocast = autocast_context(device, settings.dtype)
    dtype = AUTOCAST_DTYPES[settings.dtype] or torch.float32
    left = torch.rand(
        settings.matmul_size, settings.matmul_size, device=device, dtype=dtype)
    right = torch.rand_like(left)
    by_name = {r.name: r for r in results}

    def forward(name):
        return lambda: models[name](inputs)

    def failed(name, error):
        traceback.print_exc()
        by_name[name].error = repr(error)
        by_name[name].images_per_s.clear()
        del models[name]

    # Only now, after building and counting: what they freed is given
    # back first instead of staying resident for the whole run.
    if device == 'cpu' and settings.keep_freed_memory and \
            not keep_freed_memory():
        print('glibc malloc not found: large tensors may be page-faulted '
              'anew on every forward pass', file=sys.stderr)
    matmul_seconds = []
    with torch.inference_mode(), autocast:
        matmul_kernel, matmul, kernel_rates = _fastest_gemm(
            left, right, device)
        for name in list(models):
            try:
                for _ in range(settings.warmup):
                    models[name](inputs)
            except Exception as error:
                failed(name, error)
        for _ in range(settings.repeats):
            matmul_seconds.append(_timed(matmul, device))
            for name in list(models):
                try:
                    seconds = _timed(forward(name), device)
                except Exception as error:
                    failed(name, error)
                    continue
                by_name[name].images_per_s.append(settings.batch / seconds)
    for spec in specs:
        if spec.name not in models or not settings.memory:
            continue
        try:
            if device == 'cuda':
                with torch.inference_mode(), autocast:
                    by_name[spec.name].peak_memory_mb = cuda_peak_memory_mb(
                        forward(spec.name))
            else:
                by_name[spec.name].peak_memory_mb = measure_in_subprocess(
                    spec.build_cfg(settings.mode,
                                   settings.size), settings.batch,
                    settings.size, settings.threads, settings.channels_last,
                    settings.deploy, settings.dtype)
        except Exception as error:  # keep the speed, report the error
            traceback.print_exc()
            by_name[spec.name].error = f'memory: {error!r}'
    return dict(
        environment=environment(settings),
        settings=dataclasses.asdict(settings),
        matmul=dict(
            size=settings.matmul_size,
            kernel=matmul_kernel,
            kernel_rates=kernel_rates,
            seconds=matmul_seconds,
            macs_per_s=matmul_macs_per_s(matmul_seconds,
                                         settings.matmul_size)),
        models=[dataclasses.asdict(r) for r in results])
