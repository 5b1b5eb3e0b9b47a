# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Helpers shared by the dataset classes and the dataset converters:
error messages, host guards and image decoding/writing."""
import os
import os.path as osp
from typing import Optional, Sequence

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


def to_uint8_bgr(image: Optional[np.ndarray], source: str) -> np.ndarray:
    """Bring an image read with ``cv2.IMREAD_UNCHANGED`` to 8-bit BGR.

    Remote-sensing tiles come as 8-bit RGB, but also as single-channel
    (panchromatic or converted) or 16-bit files, or with a fourth band
    (alpha or near infrared, which is dropped). 16-bit images whose values
    all fit in 0..255 are cast; others are scaled from the full 16-bit
    range (divided by 257), never stretched per image, so all tiles of a
    dataset keep one radiometry.

    Args:
        image (np.ndarray, optional): Decoded image, or None if decoding
            failed.
        source (str): File (or archive member) name for error messages.

    Returns:
        np.ndarray: uint8 array of shape (H, W, 3), BGR.
    """
    if image is None:
        raise ValueError(f'Cannot decode the image {source!r}; is it a '
                         'complete image file?')
    if image.dtype == np.uint16:
        if image.max() > 255:
            image = (image.astype(np.uint32) + 128) // 257
        image = image.astype(np.uint8)
    if image.dtype != np.uint8:
        raise ValueError(f'{source!r} has pixel type {image.dtype}; expected '
                         '8- or 16-bit integers (an orthophoto, not a DSM).')
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = np.ascontiguousarray(image[..., :3])
    elif image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'{source!r} has shape {image.shape}; expected a '
                         'grayscale, RGB or 4-band image.')
    return image


def decode_image(data: bytes, source: str) -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, TIFF...) to 8-bit BGR.

    Args:
        data (bytes): The encoded file content.
        source (str): File (or archive member) name for error messages.

    Returns:
        np.ndarray: uint8 array of shape (H, W, 3), BGR.
    """
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return to_uint8_bgr(image, source)


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
