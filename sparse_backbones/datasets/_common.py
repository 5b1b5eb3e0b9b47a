# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Helpers shared by the dataset classes and the dataset converters:
error messages, host guards and image writing (images are read with
:mod:`~sparse_backbones.datasets.image_io`)."""
import json
import os
import os.path as osp
from typing import Iterator, Sequence, Tuple

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


def read_label_list(ann_file: str, num_classes: int,
                    line_format: str) -> Iterator[Tuple[int, str, int]]:
    """Yield ``(line number, relative path, label)`` of a split file of
    ``<relative path> <label>`` lines; blank lines are skipped, a malformed
    line or a label outside ``0..num_classes-1`` is an error naming the
    line (``line_format`` says what a line should look like)."""
    with open(ann_file) as f:
        for line_no, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            parts = text.rsplit(' ', 1)
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                raise ValueError(f'{ann_file}:{line_no}: expected '
                                 f'{line_format!r}, got {text!r}')
            label = int(parts[1])
            if not 0 <= label < num_classes:
                raise ValueError(
                    f'{ann_file}:{line_no}: label {label} is outside '
                    f'0..{num_classes - 1} ({num_classes} classes)')
            yield line_no, parts[0], label


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
               '(README, "Dependency stacks") to use it.')

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


# What a converter writes next to its patches: the settings they were cut
# with, so that a rerun never mixes patches of other settings.
SETTINGS_FILE = 'split_settings.json'


def check_out_dir_settings(out_dir: str, settings: dict) -> None:
    """Record ``settings`` in ``out_dir``, or refuse a folder that holds
    patches made with other ones.

    Args:
        out_dir (str): The converter's output folder (created if needed).
        settings (dict): JSON-serialisable settings that shape the patches
            (sizes, strides, scales, bit depth, ...).

    Raises:
        ValueError: The folder was written with other settings; the
            message names the ones that differ.
    """
    os.makedirs(out_dir, exist_ok=True)
    settings_path = osp.join(out_dir, SETTINGS_FILE)
    current = json.loads(json.dumps(settings))
    if not osp.isfile(settings_path):
        with open(settings_path, 'w') as f:
            json.dump(current, f, indent=2)
        return
    with open(settings_path) as f:
        previous = json.load(f)
    if previous != current:
        changed = sorted(k for k in current if previous.get(k) != current[k])
        raise ValueError(
            f'{out_dir!r} holds patches made with other settings '
            f'({", ".join(changed)} differ, see {settings_path}). Use '
            'another --out-dir, or delete this one to start over.')
