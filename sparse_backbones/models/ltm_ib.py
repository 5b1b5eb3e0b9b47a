# Copyright (c) sparse_backbones contributors. All rights reserved.
"""A linear classification head that adds LTM's IB term to its loss.

The IB term needs the pooled features and the labels together, which only
the head sees, so it lives in a thin subclass of mmpretrain's
``LinearClsHead`` (registered only when mmpretrain is installed). The
re-fitting schedule is :class:`~sparse_backbones.engine.LTMIBHook`'s::

    head=dict(
        type='sparse_backbones.LTMIBClsHead',
        num_classes=30, in_channels=768,
        ib_loss=dict(type='LTMIBLoss', loss_weight=0.1)),  # None: plain CE
    custom_hooks=[dict(type='sparse_backbones.LTMIBHook', start_ratio=0.3)]
"""
from typing import List, Optional, Tuple

import torch

from ..registry import MODELS, register_module

try:
    from mmpretrain.models.heads import LinearClsHead
except Exception:  # noqa: BLE001
    # mmpretrain is an optional host; missing, or failing its mmcv version
    # check, it only takes this head away.
    LinearClsHead = None

__all__ = ['LTMIBClsHead']

if LinearClsHead is not None:

    @register_module(MODELS)
    class LTMIBClsHead(LinearClsHead):
        """``LinearClsHead`` + the IB term of LTM on its pre-logits.

        The losses dict gets ``loss_ib`` once the term is active (after the
        first re-fit of :class:`~sparse_backbones.engine.LTMIBHook`); the
        head also hands every training batch's features to the IB loss,
        which keeps them while the hook collects.

        Args:
            num_classes (int): Classes.
            in_channels (int): Channels of the pooled features.
            ib_loss (dict, optional): Config of
                :class:`~sparse_backbones.losses.LTMIBLoss` without
                ``num_classes``/``feature_dims`` (filled in here). None
                trains with the classification loss alone.
                Defaults to ``dict(type='LTMIBLoss')``.
            **kwargs: Arguments of ``LinearClsHead`` (``loss``, ``topk``,
                ``init_cfg``, ...).
        """

        def __init__(self,
                     num_classes: int,
                     in_channels: int,
                     ib_loss: Optional[dict] = dict(type='LTMIBLoss'),
                     **kwargs) -> None:
            super().__init__(num_classes, in_channels, **kwargs)
            self.ib_loss = None
            if ib_loss is not None:
                cfg = dict(ib_loss)
                cfg.setdefault('num_classes', num_classes)
                cfg.setdefault('feature_dims', in_channels)
                self.ib_loss = MODELS.build(cfg)

        def loss(self, feats: Tuple[torch.Tensor], data_samples: List,
                 **kwargs) -> dict:
            pre_logits = self.pre_logits(feats)
            losses = self._get_loss(
                self.fc(pre_logits), data_samples, **kwargs)
            if self.ib_loss is None:
                return losses
            if 'gt_label' not in data_samples[0]:
                raise ValueError(
                    'the IB term needs class indices (gt_label) per sample; '
                    'batch augmentations that leave only gt_score (mixup, '
                    'cutmix) are not supported: set model.head.ib_loss=None '
                    'or drop the batch augmentation')
            labels = torch.cat([s.gt_label for s in data_samples])
            self.ib_loss.collect(pre_logits, labels)
            if bool(self.ib_loss.active):
                losses['loss_ib'] = self.ib_loss(pre_logits, labels)
            return losses
