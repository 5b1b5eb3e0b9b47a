# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Which backbones a benchmark compares, and how each one is built.

A :class:`ModelSpec` is a display name plus the registry config of the
backbone for the two modes of the benchmark:

- ``cls``: the classification output only (what a classifier head reads),
  e.g. LeMeViT with ``out_type='avg_featmap'``, mmpretrain's ViT with its
  class token, Swin with its last stage;
- ``dense``: every stage map a detection or segmentation neck reads
  (``out_indices`` of all stages).

The default set is every arch of every backbone registered by this package
(found in the registry, so backbones added later are picked up without
touching this file) plus the hosts' baselines users would otherwise pick.
DGE backbones appear twice: as built (the paper's init, finest split
everywhere, i.e. full cost) and at budget 0.5 (``DGEDeiT-small@0.5``).
"""
import dataclasses
import functools
import inspect
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.registry import MODELS as ROOT_MODELS

from ..backbones import deploy as deploy_backbones
from ..registry import MODELS

MODES = ('cls', 'dense')


@dataclasses.dataclass
class ModelSpec:
    """A backbone of the benchmark.

    Args:
        name: Display name, e.g. ``'LeMeViT-small'`` or ``'Swin-T'``.
        build_cfg: Returns the registry config for a mode and input size.
        ours: Whether the backbone belongs to this package.
        type_name: Registered type, e.g. ``'sparse_backbones.LeMeViT'``.
        arch: Canonical arch name (None for configs without ``arch``).
    """
    name: str
    build_cfg: Callable[[str, int], dict]
    ours: bool
    type_name: str
    arch: Optional[str] = None

    def build(self, mode: str, size: int, deploy: bool = True) -> nn.Module:
        """Build the backbone in eval mode for ``mode`` at ``size`` px;
        ``deploy`` switches our backbones to their fused inference layers
        (what a user's inference runs)."""
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        # Seeded: the same weights every run (DGE's realised cost depends
        # on its router weights).
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = ROOT_MODELS.build(self.build_cfg(mode, size))
        model.eval()  # mmpretrain's Swin returns None from eval()
        if deploy:
            deploy_backbones(model)
        return model


# --------------------------------------------------------------- ours
def arch_groups(arch_zoo: Dict[str, dict]) -> Dict[str, List[str]]:
    """Group the aliases of an ``arch_zoo``: canonical name -> aliases.

    Aliases are keys with equal settings (``dict.fromkeys(['t', 'tiny'],
    ...)``); the longest alias is the canonical name.
    """
    groups: List[List[str]] = []
    for key, settings in arch_zoo.items():
        for group in groups:
            if arch_zoo[group[0]] == settings:
                group.append(key)
                break
        else:
            groups.append([key])
    return {max(g, key=lambda k: (len(k), k)): g for g in groups}


def _our_kwargs(cls: type, mode: str) -> dict:
    """Constructor arguments of one of our backbones for ``mode``."""
    params = inspect.signature(cls.__init__).parameters
    if mode == 'cls':
        if 'out_type' in params and 'avg_featmap' in getattr(
                cls, 'out_types', ()):
            return dict(out_type='avg_featmap')
        return dict(out_indices=-1) if 'out_indices' in params else {}
    # A plain ViT (num_stages a per-instance property, e.g. its depth)
    # keeps its default output, as DeiT-S does in dense mode.
    num_stages = getattr(cls, 'num_stages', None)
    if isinstance(num_stages, int) and 'out_indices' in params:
        return dict(out_indices=tuple(range(num_stages)))
    return {}


def _our_spec(type_name: str, cls: type, arch: str) -> ModelSpec:

    def build_cfg(mode: str, size: int) -> dict:
        return dict(
            type=f'sparse_backbones.{type_name}',
            arch=arch,
            **_our_kwargs(cls, mode))

    return ModelSpec(f'{type_name}-{arch}', build_cfg, True,
                     f'sparse_backbones.{type_name}', arch)


# Operating point of the dynamic designs in the default set: the budget
# the papers report their speed at.
DGE_BENCHMARK_BUDGET = 0.5


@functools.lru_cache(maxsize=None)
def _calibrated_router_bias(type_name: str, arch: str, mode: str, size: int,
                            budget: float) -> Tuple[float, float, float]:
    """Router bias at which an untrained DGE model realises ``budget``.

    A freshly built DGE model prefers the finest split everywhere (the
    paper's init) and so runs at full cost; a trained one runs at its
    budget. For speed only, the bias is bisected on random images of the
    benchmark size (seeded), as :func:`calibrate_router_bias` documents.
    """
    from ..backbones.dge import calibrate_router_bias
    model = _our_spec(type_name, MODELS.get(type_name),
                      arch).build(mode, size)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        images = torch.rand(2, 3, size, size)
    calibrate_router_bias(model, images, budget)
    return tuple(model.dge_blocks()[0].router.bias.tolist())


def _budget_spec(type_name: str, cls: type, arch: str,
                 budget: float) -> ModelSpec:

    def build_cfg(mode: str, size: int) -> dict:
        return dict(
            type=f'sparse_backbones.{type_name}',
            arch=arch,
            router_bias=_calibrated_router_bias(type_name, arch, mode, size,
                                                budget),
            **_our_kwargs(cls, mode))

    return ModelSpec(f'{type_name}-{arch}@{budget:g}', build_cfg, True,
                     f'sparse_backbones.{type_name}', arch)


def our_backbones() -> Dict[str, type]:
    """Registered backbones of this package: classes with an ``arch_zoo``."""
    return {
        name: cls
        for name, cls in sorted(MODELS.module_dict.items())
        if isinstance(cls, type) and issubclass(cls, nn.Module)
        and getattr(cls, 'arch_zoo', None)
    }


def our_specs() -> List[ModelSpec]:
    """One spec per arch (not per alias) of every registered backbone."""
    specs = []
    for name, cls in our_backbones().items():
        for arch in arch_groups(cls.arch_zoo):
            specs.append(_our_spec(name, cls, arch))
            if hasattr(cls, 'set_router_bias'):
                # DGE: also at the budget it is trained for.
                specs.append(
                    _budget_spec(name, cls, arch, DGE_BENCHMARK_BUDGET))
    return specs


# ------------------------------------------------------------ baselines
def _deit_small(mode: str, size: int) -> dict:
    cfg = dict(
        type='mmpretrain.VisionTransformer', arch='deit-small', img_size=size)
    if mode == 'dense':
        cfg.update(out_type='featmap', out_indices=-1)
    return cfg


def _swin_tiny(mode: str, size: int) -> dict:
    return dict(
        type='mmpretrain.SwinTransformer',
        arch='tiny',
        img_size=size,
        pad_small_map=True,  # any input size, as ours
        out_indices=(3, ) if mode == 'cls' else (0, 1, 2, 3))


def _pvt(type_name: str, **arch) -> Callable[[str, int], dict]:

    def build_cfg(mode: str, size: int) -> dict:
        cfg = dict(
            type=f'mmdet.{type_name}',
            out_indices=(3, ) if mode == 'cls' else (0, 1, 2, 3),
            **arch)
        if type_name == 'PyramidVisionTransformer':
            # Absolute position embeddings at the input size: no resizing
            # in every forward.
            cfg['pretrain_img_size'] = size
        return cfg

    return build_cfg


# Settings of mmdet's own PVT configs (pvt-s, pvtv2-b1, pvtv2-b2).
BASELINES = {
    'DeiT-S':
    ModelSpec('DeiT-S', _deit_small, False, 'mmpretrain.VisionTransformer',
              'deit-small'),
    'PVT-S':
    ModelSpec('PVT-S',
              _pvt('PyramidVisionTransformer', num_layers=[3, 4, 6, 3]), False,
              'mmdet.PyramidVisionTransformer', None),
    'PVTv2-b1':
    ModelSpec('PVTv2-b1',
              _pvt('PyramidVisionTransformerV2', num_layers=[2, 2, 2, 2]),
              False, 'mmdet.PyramidVisionTransformerV2', None),
    'PVTv2-b2':
    ModelSpec('PVTv2-b2',
              _pvt('PyramidVisionTransformerV2', num_layers=[3, 4, 6, 3]),
              False, 'mmdet.PyramidVisionTransformerV2', None),
    'Swin-T':
    ModelSpec('Swin-T', _swin_tiny, False, 'mmpretrain.SwinTransformer',
              'tiny'),
}


# ---------------------------------------------------------- selection
def _generic_spec(text: str) -> ModelSpec:
    type_name, _, arch = text.partition(':')

    def build_cfg(mode: str, size: int) -> dict:
        cfg = dict(type=type_name)
        if arch:
            cfg['arch'] = arch
        return cfg

    return ModelSpec(text, build_cfg, type_name.startswith('sparse_backbones'),
                     type_name, arch or None)


def resolve_specs(names: Sequence[str] = ()) -> List[ModelSpec]:
    """Specs for command-line names; the default set when ``names`` is empty.

    Args:
        names: Display names (``'Swin-T'``, ``'LeMeViT-small'``) or
            ``registry_type[:arch]`` strings, built with the type's defaults
            (``'sparse_backbones.LeMeViT:s'``, ``'mmdet.ResNet'``).

    Raises:
        KeyError: for a display name that is neither a baseline nor an
            arch of ours, listing the known names.
    """
    known = {s.name: s for s in our_specs()}
    known.update(BASELINES)
    if not names:
        return list(known.values())
    specs = []
    for name in names:
        if name in known:
            specs.append(known[name])
        elif '.' in name.partition(':')[0]:
            specs.append(_generic_spec(name))
        else:
            raise KeyError(
                f'Unknown model {name!r}: use one of {sorted(known)} or a '
                f"registry type with its scope and an optional arch, e.g. "
                f"'sparse_backbones.LeMeViT:small' or 'mmdet.ResNet'")
    return specs
