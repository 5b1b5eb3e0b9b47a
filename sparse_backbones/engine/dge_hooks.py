# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Logging of the realised cost of dynamic backbones in validation/test."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS, register_module


@register_module(HOOKS)
class FLOPsRatioHook(Hook):
    """Log the mean realised FLOPs ratio of a dynamic backbone (DGE) over
    the validation and test sets, as ``val/flops_ratio`` and
    ``test/flops_ratio``.

    After every iteration it reads ``model.backbone.last_stats`` (the
    statistics of that batch's forward), weights the batch's mean ratio by
    its images, and publishes the mean over the epoch before the logger
    hook writes the epoch's line. Training logs the ratio per iteration
    through the losses dict (``flops_ratio``, see
    :mod:`sparse_backbones.models`). With sliding-window inference
    (mmseg ``mode='slide'``) an iteration runs the backbone once per window
    and only the last window's statistics are read. ::

        custom_hooks = [dict(type='FLOPsRatioHook')]
    """
    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL)

    def __init__(self) -> None:
        self._total = 0.
        self._images = 0

    @staticmethod
    def _backbone(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if not getattr(backbone, 'is_dynamic', False):
            raise TypeError(
                'FLOPsRatioHook needs a model whose backbone has last_stats '
                f'(DGEDeiT, DGEPVT); got {type(backbone).__name__}')
        return backbone

    def _reset(self, runner) -> None:
        self._backbone(runner)  # fail early on a static backbone
        self._total, self._images = 0., 0

    def _accumulate(self, runner) -> None:
        ratios = self._backbone(runner).last_stats.sample_flops_ratio
        self._total += float(ratios.detach().sum())
        self._images += ratios.numel()

    def _publish(self, runner, mode: str) -> None:
        if self._images:
            runner.message_hub.update_scalar(f'{mode}/flops_ratio',
                                             self._total / self._images)

    def before_val_epoch(self, runner) -> None:
        self._reset(runner)

    def before_test_epoch(self, runner) -> None:
        self._reset(runner)

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch: Optional[dict] = None,
                       outputs=None) -> None:
        self._accumulate(runner)

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs=None) -> None:
        self._accumulate(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._publish(runner, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._publish(runner, 'test')
