# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Helpers shared by the dataset classes and the dataset converters:
error messages, host guards and image writing (images are read with
:mod:`~sparse_backbones.datasets.image_io`)."""
import os
import os.path as osp
from typing import Sequence

import cv2
import numpy as np

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


def write_image_atomic(path: str, image: np.ndarray) -> None:
    """Write an image through a temporary file renamed into place.

    An interrupted run then never leaves a truncated image that a rerun or
    a dataset would take for a finished one.

    Args:
        path (str): Output path; its extension selects the format.
        image (np.ndarray): Image in OpenCV (BGR) order or single-channel.
    """
    ok, data = cv2.imencode(osp.splitext(path)[1], image)
    if not ok:
        raise OSError(f'Cannot encode {path!r}')
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data.tobytes())
    os.replace(tmp, path)


def check_out_dir(src: str, out_dir: str) -> None:
    """Refuse an output folder that is, or lies inside, the source folder.

    The converters never write into the downloaded data: a rerun then
    always starts from pristine sources, and a wrong ``--out-dir`` cannot
    overwrite them.

    Args:
        src (str): The source folder (downloaded archives or images).
        out_dir (str): The requested output folder.
    """
    src_real, out_real = osp.realpath(src), osp.realpath(out_dir)
    if osp.commonpath([src_real, out_real]) == src_real:
        raise ValueError(
            f'--out-dir {out_dir!r} is inside the source folder {src!r}; '
            'the converters never write into the downloaded data. Pick an '
            'output folder outside it (and point the config\'s data_root '
            'there), or keep the download elsewhere, e.g. under data/raw/.')
