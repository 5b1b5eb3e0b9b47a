# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The computation-budget loss of dynamic backbones (DGE)."""
from typing import Union

import torch
import torch.nn as nn

from ..registry import MODELS, register_module


@register_module(MODELS)
class BudgetLoss(nn.Module):
    """``loss_weight * (flops_ratio - budget) ** 2``.

    ``flops_ratio`` is the realised over static multiply-adds of the last
    forward of a dynamic backbone: the ``flops_ratio`` of its
    ``last_stats`` (a :class:`~sparse_backbones.backbones.DynamicStats`;
    filled by DGEDeiT and DGEPVT, differentiable w.r.t. the routers in
    training). A soft penalty, as in
    the DGE reference code: it pulls the batch's mean cost to the budget
    without enforcing it per image.

    Used through the ``aux_losses`` of the models in
    :mod:`sparse_backbones.models`, which pass the backbone's
    ``last_stats``::

        aux_losses=dict(loss_budget=dict(type='BudgetLoss', budget=0.5))

    Args:
        budget (float): Target fraction of the static multiply-adds, in
            (0, 1]. Defaults to 0.5.
        loss_weight (float): The weight lambda. Defaults to 1.0.
    """

    def __init__(self, budget: float = 0.5, loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0 < budget <= 1:
            raise ValueError(
                f'budget is the fraction of the static FLOPs to keep and '
                f'must be in (0, 1], got {budget}; e.g. budget=0.5 keeps '
                f'half')
        if loss_weight < 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight}')
        self.budget = budget
        self.loss_weight = loss_weight

    def forward(self, stats: Union[torch.Tensor, object]) -> torch.Tensor:
        """Compute the loss.

        Args:
            stats: A tensor of FLOPs ratios (its mean is used), or an object
                with a ``flops_ratio`` tensor (a backbone's ``last_stats``,
                whose ``flops_ratio`` is None for designs that do not
                count their cost).
        """
        ratio = stats if isinstance(stats, torch.Tensor) else getattr(
            stats, 'flops_ratio', None)
        if not isinstance(ratio, torch.Tensor):
            raise TypeError(
                'BudgetLoss needs a FLOPs-ratio tensor or an object with a '
                f'flops_ratio tensor (a dynamic backbone\'s last_stats), got '
                f'{type(stats).__name__}')
        return self.loss_weight * (ratio.mean() - self.budget)**2

    def extra_repr(self) -> str:
        return f'budget={self.budget}, loss_weight={self.loss_weight}'
