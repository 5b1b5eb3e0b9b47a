# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Random draws that depend only on the seed and the position in training,
so that a resumed run repeats the uninterrupted one bit for bit."""
import functools
import random
from typing import Any, Optional

import numpy as np
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from ..registry import HOOKS, register_module

# What a derived seed is for; part of its key so the streams never overlap.
_EPOCH, _STEP, _FETCH, _WORKERS = range(4)


def derived_seed(seed: int, *position: int) -> int:
    """A 32-bit seed from the run's seed and a position in training."""
    entropy = [int(seed) % 2**63, *(int(p) for p in position)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def seed_generators(seed: int) -> None:
    """Seed python's, numpy's and torch's (every device's) global
    generators: all that augmentations, drop path and DGE's Gumbel noise
    draw from."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _PositionSeededIterator:
    """The infinite iterator of an iteration-based loop, reseeding before
    every fetch that runs in this process (``num_workers=0``).

    Skipping on resume steps through the workers' fetches when there are
    workers: their generators must advance as in the uninterrupted run.
    mmengine's sampler-level skip (the maintained fork) would restart them
    from their first state.
    """

    def __init__(self, iterator: Any, seed: int, rank: int,
                 in_process: bool) -> None:
        self._iterator = iterator
        self._seed = seed
        self._rank = rank
        self._in_process = in_process
        self._fetched = 0

    def __iter__(self) -> '_PositionSeededIterator':
        return self

    def __next__(self) -> Any:
        if self._in_process:
            seed_generators(
                derived_seed(self._seed, self._rank, _FETCH, self._fetched))
        self._fetched += 1
        return next(self._iterator)

    def skip_iter(self, num_iters: int) -> None:
        if self._in_process and hasattr(self._iterator, 'skip_iter'):
            self._iterator.skip_iter(num_iters)  # loads nothing
            self._fetched += num_iters
        else:
            for _ in range(num_iters):
                next(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


@register_module(HOOKS)
class ExactResumeHook(Hook):
    """Make every random draw of training a function of the run's seed and
    the position in training, so that resuming repeats the uninterrupted run.

    mmengine seeds the generators once, at the start, and a checkpoint holds
    none of their states: a resumed run draws the first epoch's numbers
    again, and its data workers start from the seeds of the first epoch.
    This hook reseeds instead:

    - epoch-based loops: the generators of every rank at the start of each
      epoch, and the data workers from the epoch (persistent workers are
      started again each epoch for that; it costs one worker start-up per
      epoch). The epoch's draws then do not depend on what ran before it,
      validation included.
    - iteration-based loops: the generators before every iteration's
      forward pass, and before every fetch made in this process
      (``num_workers=0``); with workers, a resumed run steps the workers
      through the iterations already trained (as the original mmengine
      does), so their generators reach the same states.

    Samplers need nothing: mmengine's and mmpretrain's derive their order
    from the seed and the epoch. The seed is the runner's, which a resumed
    run takes from the checkpoint. ``tools/train.py`` adds this hook; other
    launchers need
    ``custom_hooks=[dict(type='sparse_backbones.ExactResumeHook')]``.
    Resuming from a checkpoint saved in the middle of an epoch (by
    iteration in an epoch-based loop) restarts that epoch, as in mmengine.
    """

    priority = 'VERY_HIGH'  # before any hook that could draw a number

    def before_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        loader = loop.dataloader
        rank = get_rank()
        if hasattr(loop, 'dataloader_iterator'):  # iteration-based
            if not isinstance(loop.dataloader_iterator,
                              _PositionSeededIterator):
                loop.dataloader_iterator = _PositionSeededIterator(
                    loop.dataloader_iterator, runner.seed, rank,
                    in_process=loader.num_workers == 0)
            return
        seed_generators(derived_seed(runner.seed, rank, _EPOCH, runner.epoch))
        if loader.num_workers == 0:
            return
        init_fn = loader.worker_init_fn
        if isinstance(init_fn, functools.partial) and \
                init_fn.func is mmengine_worker_init_fn:
            # mmengine seeds worker k of rank r with seed + workers * r + k
            # in every epoch; the epoch's own seed takes its place.
            loader.worker_init_fn = functools.partial(
                init_fn,
                seed=derived_seed(runner.seed, _WORKERS, runner.epoch) %
                2**31)
        # (Without mmengine's init function, torch seeds the workers from
        # the main generator, reseeded above.)
        if loader.persistent_workers:
            loader._iterator = None  # workers that took this epoch's seeds

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[Any] = None) -> None:
        if hasattr(runner.train_loop, 'dataloader_iterator'):
            seed_generators(
                derived_seed(runner.seed, get_rank(), _STEP, runner.iter))
