# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Registries of sparse_backbones.

Each registry is a child of mmengine's root registry with scope
``sparse_backbones`` and ``locations``, so ``type='sparse_backbones.LeMeViT'``
resolves from the default scope of mmpretrain, mmdet and mmseg without
``custom_imports``: the prefix makes mmengine import this module and the
locations register the classes.

:func:`register_module` additionally registers each public class in the
mmengine root registry, so the plain ``type='LeMeViT'`` works from every host
(which all search the root as their parent) once
``custom_imports=dict(imports=['sparse_backbones'])`` ran. The class object is
the same in both places: one implementation, three hosts.
"""
from typing import Callable, Optional

from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = 'sparse_backbones'
# Importing the package registers everything (see sparse_backbones/__init__).
LOCATIONS = ['sparse_backbones']

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope=SCOPE,
    locations=LOCATIONS)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=SCOPE,
    locations=LOCATIONS)
HOOKS = Registry(
    'hook',
    parent=MMENGINE_HOOKS,
    scope=SCOPE,
    locations=LOCATIONS)
DATASETS = Registry(
    'dataset',
    parent=MMENGINE_DATASETS,
    scope=SCOPE,
    locations=LOCATIONS)
TRANSFORMS = Registry(
    'transform',
    parent=MMENGINE_TRANSFORMS,
    scope=SCOPE,
    locations=LOCATIONS)
METRICS = Registry(
    'metric',
    parent=MMENGINE_METRICS,
    scope=SCOPE,
    locations=LOCATIONS)


def register_module(registry: Registry,
                    name: Optional[str] = None) -> Callable[[type], type]:
    """Register a class in ``registry`` and under the same name in its root.

    Args:
        registry (Registry): One of the child registries of this module.
        name (str, optional): Registered name. Defaults to the class name.
    """

    def _register(cls: type) -> type:
        registry.register_module(name=name, module=cls)
        registry.parent.register_module(name=name, module=cls)
        return cls

    return _register
