# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Unwrapping of checkpoint files into plain backbone state dicts."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence

import torch

from .safe_load import describe_unreadable_checkpoint

# Where training frameworks put the weights: timm (`state_dict`,
# `state_dict_ema`), DeiT/Swin/LIT-style (`model`), mmengine (`state_dict`).
WRAPPER_KEYS = ('state_dict', 'model', 'state_dict_ema', 'model_ema')
PREFIXES = ('module.', 'backbone.')


def choose_weights(checkpoint: Mapping,
                   weights: Optional[str] = None) -> Mapping:
    """The checkpoint reduced to its EMA (``'ema'``) or raw (``'raw'``)
    weights; ``None`` leaves it as it is (its ``state_dict`` wins).

    The two layouts keep them apart the opposite way round: mmengine's
    ``EMAHook`` saves the average as ``state_dict`` and the raw weights as
    ``ema_state_dict`` (``module.`` keys), timm (the official LeMeViT, DGE
    and LIT code) the raw weights as ``state_dict`` and the average as
    ``state_dict_ema``.

    Raises:
        ValueError: ``weights`` is not None, 'ema' or 'raw'.
        KeyError: the checkpoint holds no EMA weights to choose between.
    """
    if weights is None:
        return checkpoint
    if weights not in ('ema', 'raw'):
        raise ValueError(f"weights must be 'ema', 'raw' or None, got "
                         f'{weights!r}')
    if isinstance(checkpoint, Mapping) and 'ema_state_dict' in checkpoint:
        if weights == 'ema':
            return {'state_dict': checkpoint['state_dict']}
        return {
            'state_dict': {
                k[len('module.'):]: v
                for k, v in checkpoint['ema_state_dict'].items()
                if k.startswith('module.')
            }
        }
    if isinstance(checkpoint, Mapping) and 'state_dict_ema' in checkpoint:
        return {
            'state_dict':
            checkpoint['state_dict_ema' if weights == 'ema' else 'state_dict']
        }
    raise KeyError(
        f'weights={weights!r} chooses between EMA and raw weights, but the '
        f"checkpoint holds only one set (no 'ema_state_dict' of mmengine's "
        f"EMAHook, no 'state_dict_ema' of timm): drop the option")


def unwrap_state_dict(checkpoint: Mapping,
                      prefixes: Sequence[str] = PREFIXES
                      ) -> Dict[str, torch.Tensor]:
    """Return the tensors of ``checkpoint`` with wrappers and prefixes gone.

    The first of :data:`WRAPPER_KEYS` present wins, so the non-EMA weights of
    a timm checkpoint are taken, as the upstream downstream loaders do. Each
    prefix in ``prefixes`` is stripped, in order, from every key that has it;
    keys of a ``backbone.``-prefixed detector checkpoint that lie outside the
    backbone (neck, heads) are dropped.
    """
    state_dict = checkpoint
    for key in WRAPPER_KEYS:
        if isinstance(checkpoint, Mapping) and key in checkpoint:
            state_dict = checkpoint[key]
            break
    if not isinstance(state_dict, Mapping):
        raise TypeError('Expected a state dict (a mapping of names to '
                        f'tensors), got {type(state_dict).__name__}')
    for prefix in prefixes:
        if any(k.startswith(prefix) for k in state_dict):
            state_dict = OrderedDict((k[len(prefix):], v)
                                     for k, v in state_dict.items()
                                     if k.startswith(prefix))
    return OrderedDict((k, v) for k, v in state_dict.items()
                       if isinstance(v, torch.Tensor))


def checkpoint_mismatch(own: Mapping[str, torch.Tensor],
                        theirs: Mapping[str, torch.Tensor],
                        ignore_unexpected: bool = True) -> List[str]:
    """How ``theirs`` (a checkpoint's state dict) fails to fit ``own`` (a
    model's), as readable lines; empty when it fits.

    Lists missing keys, keys of other shapes and, unless
    ``ignore_unexpected``, keys the model does not have, each with
    examples, and names a key prefix that would make them match.
    """
    missing = [k for k in own if k not in theirs]
    mismatched = [
        f'{k}: checkpoint {tuple(theirs[k].shape)} vs model '
        f'{tuple(v.shape)}' for k, v in own.items()
        if k in theirs and theirs[k].shape != v.shape
    ]
    unexpected = [] if ignore_unexpected else [
        k for k in theirs if k not in own
    ]
    lines = []
    if missing:
        lines.append(f'{len(missing)} missing keys, e.g. {missing[:8]}')
    if mismatched:
        lines.append(f'{len(mismatched)} keys with other shapes, e.g. '
                     f'{mismatched[:8]}')
    if unexpected:
        lines.append(f'{len(unexpected)} keys the model does not have, '
                     f'e.g. {unexpected[:8]}')
    if missing:
        lines += _prefix_hint(missing[:20], list(theirs))
    return lines


def _prefix_hint(missing: List[str], theirs: List[str]) -> List[str]:
    """A prefix that the checkpoint's keys carry, or lack, relative to the
    model's missing ones (``model.`` of a wrapper, ``backbone.`` of a
    detector)."""
    for key in missing:
        for other in theirs:
            if other.endswith('.' + key):
                prefix = other[:-len(key)]
                return [f'the checkpoint keys carry the prefix {prefix!r} '
                        f'(e.g. {other!r} for the model\'s {key!r})']
            if key.endswith('.' + other):
                prefix = key[:-len(other)]
                return [f'the checkpoint keys lack the prefix {prefix!r} '
                        f'(e.g. {other!r} for the model\'s {key!r})']
    return []


# What the loaders of trained checkpoints read.
TRAINED_CHECKPOINT = ('a file written by torch.save, such as the checkpoints '
                      'of tools/train.py and of the model converters')


def unreadable_checkpoint_error(path: str, error: BaseException) -> ValueError:
    """The error of every loader of trained checkpoints (the tools,
    ``init_cfg=dict(type='Pretrained')``) for a file that ``torch.load``
    refused: :func:`describe_unreadable_checkpoint`'s words.

    Raise it ``from None``: torch's own message, which a chained traceback
    would print, advises an unrestricted load.
    """
    return ValueError('cannot read the checkpoint: ' +
                      describe_unreadable_checkpoint(
                          path, error, expected=TRAINED_CHECKPOINT))


def check_checkpoint_fits(model: torch.nn.Module,
                          path: str,
                          new_modules: Sequence[str] = ()) -> None:
    """Refuse a checkpoint file whose weights do not fit ``model`` exactly,
    before anything is computed with it: mmengine's loader only logs the
    mismatch and goes on with random weights.

    Args:
        model (nn.Module): The model to load into; model wrappers (DDP) and
            test-time-augmentation wrappers are looked through.
        path (str): The checkpoint file, as mmengine's Runner would load it
            (its ``state_dict`` entry, ``module.`` prefixes stripped).
        new_modules (Sequence[str]): Names of the model's modules that are
            meant to start fresh (e.g. ``'head'`` when fine-tuning a
            classifier with other classes, ``'roi_head'`` when a detector
            starts from a classification checkpoint): their keys may be
            missing, of other shapes, or absent from the model.

    Raises:
        ValueError: The file is not a checkpoint, or its keys or shapes do
            not fit; the message lists them and a likely prefix.
    """
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001  (described below)
        raise unreadable_checkpoint_error(path, error) from None
    state_dict = checkpoint.get('state_dict', checkpoint) \
        if isinstance(checkpoint, Mapping) else None
    if not isinstance(state_dict, Mapping):
        raise ValueError(f'{path} holds a {type(checkpoint).__name__}, not '
                         f'a state dict or a training checkpoint')
    metadata = getattr(state_dict, '_metadata', None) or {}
    state_dict = {_strip_module(k): v for k, v in state_dict.items()}
    versions = {
        _strip_module(k): v.get('version')
        for k, v in metadata.items()
    }
    # Checkpoints this package wrote under older names load (the module's
    # _load_from_state_dict renames them), so they fit.
    for name, module in model.named_modules():
        upgrade = getattr(module, 'upgrade_legacy_keys', None)
        version = versions.get(name)
        if callable(upgrade) and (version is None or version < 2):
            upgrade(state_dict, f'{name}.' if name else '')
    prefixes = tuple(f'{name}.' for name in new_modules)
    own = {
        k: v
        for k, v in model.state_dict().items() if not k.startswith(prefixes)
    }
    theirs = {
        k: v
        for k, v in state_dict.items() if not k.startswith(prefixes)
    }
    lines = checkpoint_mismatch(own, theirs, ignore_unexpected=False)
    if lines:
        raise ValueError(
            f'{path} does not fit the model of the config '
            f'({type(model).__name__}): ' + '; '.join(lines) + '. Check '
            f'that the checkpoint was trained with this config (same '
            f'backbone arch and number of classes)' +
            ('' if new_modules else
             '; modules meant to start fresh (a new head) are named by '
             "load_from_new_modules=['head'] in the config") + '.')


def _strip_module(name: str) -> str:
    """A name without the ``module.`` prefix of a DDP-wrapped model."""
    return name[len('module.'):] if name.startswith('module.') else name
