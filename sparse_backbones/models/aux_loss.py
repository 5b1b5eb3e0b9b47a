# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Thin subclasses of the hosts' models that train dynamic backbones.

The hosts' ``loss()`` only sees the backbone's feature maps, while a
dynamic backbone's budget loss needs what the backbone decided (its
``last_stats``, reset by every forward). Rather than hiding statistics in
the forward output (which would break the backbone contract) or making the
backbone own a training loss, :class:`AuxiliaryLossMixin` builds the
auxiliary losses at the model level, as heads own theirs, and after the
host's ``loss()`` (one backbone forward) adds each one, evaluated on
``backbone.last_stats``, to the losses dict. It also logs the realised
FLOPs ratio (``flops_ratio``, not summed into the loss).

Registered, for each installed host:

- ``DynamicImageClassifier`` (mmpretrain ``ImageClassifier``),
- ``DynamicMaskRCNN`` (mmdet ``MaskRCNN``),
- ``DynamicFasterRCNN`` (mmdet ``FasterRCNN``; also mmrotate's Oriented
  R-CNN),
- ``DynamicEncoderDecoder`` (mmseg ``EncoderDecoder``).

Example::

    model = dict(
        type='sparse_backbones.DynamicImageClassifier',
        aux_losses=dict(loss_budget=dict(type='BudgetLoss', budget=0.5)),
        backbone=dict(type='sparse_backbones.DGEDeiT', ...), ...)
"""
import importlib
from typing import Dict, List, Optional

import torch.nn as nn

from ..registry import MODELS, register_module


class AuxiliaryLossMixin:
    """Adds losses computed from ``self.backbone.last_stats`` to ``loss()``.

    Put it before the host model class in the bases and call
    :meth:`build_aux_losses` at the end of ``__init__``.
    """

    def build_aux_losses(self, aux_losses: Optional[Dict[str, dict]]) -> None:
        """Build ``{name: loss cfg}``; names must contain ``'loss'`` so that
        mmengine sums them into the total loss."""
        aux_losses = dict(aux_losses or {})
        for name in aux_losses:
            if 'loss' not in name:
                raise ValueError(
                    f'aux_losses key {name!r} must contain "loss" (e.g. '
                    f'"loss_budget"): mmengine adds only such keys to the '
                    f'total loss')
        if aux_losses and not getattr(self.backbone, 'is_dynamic', False):
            raise TypeError(
                f'aux_losses need a dynamic backbone with last_stats '
                f'(DGEDeiT, DGEPVT); {type(self.backbone).__name__} has none')
        self.aux_losses = nn.ModuleDict({
            name: MODELS.build(cfg)
            for name, cfg in aux_losses.items()
        })

    def loss(self, inputs, data_samples) -> dict:
        losses = super().loss(inputs, data_samples)
        stats = getattr(self.backbone, 'last_stats', None)
        for name, module in self.aux_losses.items():
            losses[name] = module(stats)
        ratio = getattr(stats, 'flops_ratio', None)
        if ratio is not None:
            losses['flops_ratio'] = ratio.detach()
        return losses


# (registered name, host module, host class)
_HOST_MODELS = (
    ('DynamicImageClassifier', 'mmpretrain.models', 'ImageClassifier'),
    ('DynamicMaskRCNN', 'mmdet.models', 'MaskRCNN'),
    # mmrotate's Oriented R-CNN is an mmdet FasterRCNN with rotated heads.
    ('DynamicFasterRCNN', 'mmdet.models', 'FasterRCNN'),
    ('DynamicEncoderDecoder', 'mmseg.models', 'EncoderDecoder'),
)


def _make(name: str, host_cls: type) -> type:

    def __init__(self,
                 *args,
                 aux_losses: Optional[Dict[str, dict]] = None,
                 **kwargs) -> None:
        host_cls.__init__(self, *args, **kwargs)
        self.build_aux_losses(aux_losses)

    doc = (f'{host_cls.__module__}.{host_cls.__name__} plus the auxiliary '
           'losses of a dynamic backbone (see :class:`AuxiliaryLossMixin`).'
           '\n\n    Args:\n        aux_losses (dict, optional): '
           '``{name: loss cfg}``, each loss called with '
           '``backbone.last_stats``.\n        **kwargs: Arguments of '
           f'``{host_cls.__name__}``.\n')
    return type(name, (AuxiliaryLossMixin, host_cls),
                dict(__init__=__init__, __doc__=doc, __module__=__name__))


def _register_installed() -> List[str]:
    names = []
    for name, module, host_name in _HOST_MODELS:
        try:
            host_cls = getattr(importlib.import_module(module), host_name)
        except Exception:  # noqa: BLE001
            # Host not installed, or failing its import (mmcv version
            # check, ops not compiled): nothing to register for it.
            continue
        cls = _make(name, host_cls)
        globals()[name] = cls
        register_module(MODELS)(cls)
        names.append(name)
    return names


_REGISTERED = _register_installed()


def registered_models() -> List[str]:
    """Names of the models registered for the installed hosts."""
    return list(_REGISTERED)
