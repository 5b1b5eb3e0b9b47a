# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Helpers shared by the dataset classes: error messages and host guards."""
import os.path as osp
from typing import Sequence

from ..registry import DATASETS, register_module

DEMO_HINT = ('or try the pipeline on synthetic data in the same layout: '
             'python tools/train.py <config> --demo')


def summarise(header: str, items: Sequence[str], limit: int = 20) -> str:
    """Join ``items`` under ``header``, listing at most ``limit`` of them."""
    lines = [header] + [f'  {item}' for item in items[:limit]]
    if len(items) > limit:
        lines.append(f'  ... and {len(items) - limit} more')
    return '\n'.join(lines)


def missing_data_error(what: str, path: str,
                       prepare: Sequence[str]) -> FileNotFoundError:
    """Build the error raised when a dataset folder or file is missing.

    Args:
        what (str): What is missing, e.g. ``'DOTA image folder'``.
        path (str): The path that was expected to exist.
        prepare (Sequence[str]): Commands or steps that create it.

    Returns:
        FileNotFoundError: The error, naming the path and how to make it.
    """
    lines = [
        f'{what} not found: {path!r} '
        f'(absolute: {osp.abspath(path)}).', 'Prepare it with:'
    ]
    lines += [f'    {step}' for step in prepare]
    lines.append(DEMO_HINT)
    return FileNotFoundError('\n'.join(lines))


def register_unavailable(name: str, host: str, error: Exception) -> None:
    """Register ``name`` as a class that explains why it cannot be built.

    Without this, a config naming a dataset whose host library failed to
    import would only get mmengine's generic "not in the registry" error.

    Args:
        name (str): Registered class name.
        host (str): Package the real class needs, e.g. ``'mmdet'``.
        error (Exception): The import error of the host.
    """
    message = (f'{name} needs {host}, which could not be imported '
               f'({type(error).__name__}: {error}). Install {host} '
               '(see requirements/mminstall.txt) to use it.')

    def __init__(self, *args, **kwargs):
        raise ImportError(message)

    cls = type(name, (), {'__init__': __init__, '__doc__': message})
    register_module(DATASETS)(cls)
