# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Layer-wise learning-rate decay for any model with a layer-depth oracle.

mmdet's and mmseg's layer-decay constructors dispatch on backbone class
names (ConvNeXt/BEiT/MAE) and raise for anything else; mmpretrain's needs an
mmpretrain classifier. This constructor asks the backbone itself
(``get_layer_depth``, implemented by every backbone of this package and by
mmpretrain's), so one config line works in all three hosts.
"""
from typing import List, Optional

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS, register_module


@register_module(OPTIM_WRAPPER_CONSTRUCTORS)
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Scale each parameter's lr by ``layer_decay_rate ** (L - 1 - depth)``.

    ``depth`` and ``L`` come from ``backbone.get_layer_depth(name,
    prefix='backbone.')`` (or the model's own ``get_layer_depth``); parameters
    outside the backbone (necks, heads) get the full learning rate. Everything
    else of ``paramwise_cfg`` (``custom_keys``, ``norm_decay_mult``,
    ``bias_decay_mult``, ``flat_decay_mult``, ...) behaves as in mmengine's
    default constructor and multiplies with the decay.

    Example:
        >>> optim_wrapper = dict(constructor=(
        ...     'sparse_backbones.LayerDecayOptimWrapperConstructor'),
        ...     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        ...     paramwise_cfg=dict(layer_decay_rate=0.9, flat_decay_mult=0.))
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        if 'layer_decay_rate' not in paramwise_cfg:
            raise KeyError('LayerDecayOptimWrapperConstructor needs '
                           'paramwise_cfg.layer_decay_rate (e.g. 0.9)')
        # Kept in paramwise_cfg: an empty one makes mmengine skip add_params.
        self.layer_decay_rate = float(paramwise_cfg['layer_decay_rate'])
        if not 0 < self.layer_decay_rate <= 1:
            raise ValueError('layer_decay_rate must be in (0, 1], got '
                             f'{self.layer_decay_rate}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   is_dcn_module: Optional[int] = None) -> None:
        if prefix:  # only the top-level call assigns the layer scales
            return super().add_params(params, module, prefix, is_dcn_module)
        if is_model_wrapper(module):
            module = module.module
        depth_of, name_prefix = self._depth_oracle(module)
        names = {id(p): n for n, p in module.named_parameters()}
        start = len(params)
        super().add_params(params, module, prefix, is_dcn_module)
        depths = {}
        for group in params[start:]:
            name = names[id(group['params'][0])]
            depth, num_layers = depth_of(name, name_prefix)
            scale = self.layer_decay_rate**(num_layers - 1 - depth)
            group['lr'] = group.get('lr', self.base_lr) * scale
            depths[depth] = scale
        MMLogger.get_current_instance().info(
            f'Layer-wise lr decay {self.layer_decay_rate}: '
            f'{len(depths)} layers, lr scales from '
            f'{min(depths.values()):.3g} to {max(depths.values()):.3g}')

    @staticmethod
    def _depth_oracle(model: nn.Module):
        backbone = getattr(model, 'backbone', None)
        if backbone is not None and hasattr(backbone, 'get_layer_depth'):
            return backbone.get_layer_depth, 'backbone.'
        if hasattr(model, 'get_layer_depth'):
            return model.get_layer_depth, ''
        raise TypeError(
            f'{type(model).__name__} has no get_layer_depth(), neither on '
            'itself nor on .backbone; layer-wise lr decay needs one')
