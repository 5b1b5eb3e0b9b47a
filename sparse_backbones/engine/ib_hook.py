# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The epoch schedule of LTM's IB training term."""
import math

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..registry import HOOKS, register_module


@register_module(HOOKS)
class LTMIBHook(Hook):
    """Re-fit the IB term's centroids and class table once per epoch and
    switch the term on after ``start_ratio`` of the epochs.

    As in LTM's released training script, the term is used from epoch
    ``ceil(start_ratio * max_epochs)`` (0-based; at the earliest epoch 1)
    onward. During the epoch before it and every later epoch but the last
    the head's
    :class:`~sparse_backbones.losses.LTMIBLoss` keeps the pooled training
    features; after the epoch it re-fits the centroids (k-means) and the
    table Q on them, so no extra pass over the data is made. The model's
    head must have an ``ib_loss`` (e.g.
    :class:`~sparse_backbones.models.LTMIBClsHead`); if it is None (the IB
    term switched off in the config) the hook does nothing. ::

        custom_hooks = [dict(type='sparse_backbones.LTMIBHook')]

    Args:
        start_ratio (float): Fraction of the epochs trained without the
            term, in [0, 1). Defaults to 0.3.
    """
    priority = 'NORMAL'

    def __init__(self, start_ratio: float = 0.3) -> None:
        if not 0 <= start_ratio < 1:
            raise ValueError(f'start_ratio is the fraction of epochs before '
                             f'the IB term starts and must be in [0, 1), got '
                             f'{start_ratio}')
        self.start_ratio = start_ratio

    def start_epoch(self, max_epochs: int) -> int:
        """First (0-based) epoch that uses the term."""
        return max(1, math.ceil(self.start_ratio * max_epochs))

    @staticmethod
    def _ib_loss(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, 'head', None)
        if head is None or not hasattr(head, 'ib_loss'):
            raise TypeError(
                'LTMIBHook needs a classifier whose head has an ib_loss '
                '(type=\'sparse_backbones.LTMIBClsHead\'); got head '
                f'{type(head).__name__}. Remove the hook or change the head.')
        return head.ib_loss

    def _check_epoch_based(self, runner) -> int:
        max_epochs = getattr(runner, 'max_epochs', None)
        if not max_epochs:
            raise ValueError('LTMIBHook re-fits once per epoch and needs an '
                             'epoch-based training loop '
                             '(train_cfg=dict(by_epoch=True, max_epochs=...))')
        return max_epochs

    def before_train_epoch(self, runner) -> None:
        ib_loss = self._ib_loss(runner)
        if ib_loss is None:
            return
        max_epochs = self._check_epoch_based(runner)
        # A re-fit after the last epoch would serve no epoch.
        if self.start_epoch(max_epochs) - 1 <= runner.epoch < max_epochs - 1:
            ib_loss.start_collecting()

    def after_train_epoch(self, runner) -> None:
        ib_loss = self._ib_loss(runner)
        if ib_loss is None or not ib_loss.collecting:
            return
        used = ib_loss.refit()
        start = self.start_epoch(self._check_epoch_based(runner))
        if runner.epoch + 1 >= start and not bool(ib_loss.active):
            ib_loss.active.fill_(True)
            runner.logger.info(
                f'LTMIBHook: IB term on from epoch {runner.epoch + 2} '
                f'(weight {ib_loss.loss_weight})')
        runner.logger.info(f'LTMIBHook: re-fitted {ib_loss.num_clusters} '
                           f'centroids and the class table on {used} '
                           f'features')
