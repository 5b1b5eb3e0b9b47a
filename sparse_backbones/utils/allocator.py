# Copyright (c) sparse_backbones contributors. All rights reserved.
"""glibc malloc settings for CPU inference and for memory measurement.

PyTorch on CPU allocates every tensor with ``malloc``. glibc serves blocks
above its mmap threshold (dynamic, at most 32 MiB) with a fresh ``mmap``
and gives them back on free, and trims the top of its heap, so each large
activation of every forward pass is page-faulted and zeroed by the kernel
anew. On LeMeViT-S at batch 16 that is about a third of the run time on a
2-core EPYC (``tools/benchmark.py`` measures it, ``--default-malloc`` turns
this off). Keeping freed memory in the heap is what jemalloc and tcmalloc,
which PyTorch's CPU performance guide recommends, do too.

These settings are process-wide, so the package never changes them on
import: the tools call :func:`keep_freed_memory`, and so can a user's own
CPU inference script.
"""
import ctypes

# malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# What this process last set: None (glibc's defaults), 'keep' or 'return'.
_current = None


def _mallopt(mmap_threshold: int, trim_threshold: int) -> bool:
    """Set glibc's two thresholds; False where glibc is not the allocator
    or refuses a value."""
    try:
        libc = ctypes.CDLL('libc.so.6')
        return bool(
            libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
            and libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    except (OSError, AttributeError):
        return False


def keep_freed_memory() -> bool:
    """Keep freed blocks below 256 MiB in the heap for reuse (fast CPU
    inference); returns whether glibc took the setting.

    What is free when it is called is first given back (``malloc_trim``),
    so setup work before inference does not stay resident. Afterwards the
    resident memory stays near the run's peak instead of falling between
    forward passes. Larger blocks are still mapped per use: they are rare,
    cheap to fault relative to the work done on them, and a heap that kept
    them could grow with each differently sized one.
    """
    global _current
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        return False
    if _mallopt(256 << 20, 1 << 30):
        _current = 'keep'
        return True
    return False


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` is in effect in this process."""
    return _current == 'keep'


def return_freed_memory_to_os() -> bool:
    """Map every block above 64 KiB on allocation and unmap it on free, so
    the resident set size follows the live tensors (memory measurement);
    returns whether glibc took the setting."""
    global _current
    if _mallopt(1 << 16, 1 << 16):
        _current = 'return'
        return True
    return False
