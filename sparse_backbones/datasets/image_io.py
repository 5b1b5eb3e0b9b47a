# Copyright (c) sparse_backbones contributors. All rights reserved.
"""How any image file becomes the pixels a model sees: one policy, one place.

Every entry point that reads an image, for a network or to cut dataset
patches from it, goes through this module: the loading transform of the
dataset classes (``LoadRSImageFromFile`` in
:mod:`~sparse_backbones.datasets.loading`, which also reads the ``--demo``
data), the dataset converters
(``tools/dataset_converters/``, the DOTA splitter included),
``tools/infer_large.py`` and ``tools/visualize.py`` (via
:func:`sparse_backbones.visualization.load_image`). A model trained on
converted tiles therefore sees the same pixels as the tools feed it on the
same scene.

Images (:func:`read_image`, :func:`decode_image`, :func:`to_uint8`):

- **Bit depth.** 8-bit pixels are kept as they are. 16-bit pixels are
  mapped with one fixed linear scale, ``round(value * 255 / 65535)``, i.e.
  ``value / 257`` (65535 -> 255, and an 8-bit image stored as 16 bits by
  the usual ``* 257`` comes back unchanged). The scale depends on the pixel
  type only, never on the content of the image: per-image stretching (to
  the image maximum or to percentiles) maps the same radiance to different
  pixel values in different tiles of one scene, and a tile to different
  values than the whole scene it was cut from, so a model trained on
  stretched tiles sees other pixels at inference than in training. A fixed
  scale is deterministic, tile-independent and lossless for 8-bit data
  (OpenCV's own conversion, ``value >> 8``, is fixed too but truncates;
  rounding ``value / 257`` is the exact inverse of the ``* 257`` expansion).
  Sensors that use fewer than 16 bits (12-bit data in a 16-bit file would
  look nearly black) pass ``bit_depth=12``, again one fixed scale
  (``value * 255 / 4095``, values above saturate), the same for every tile;
  ``bit_depth=8`` reads 16-bit files that hold 8-bit values as they are.
  Floating-point and signed pixels (reflectance, DSMs) are refused with an
  error that says how to convert them.
- **Bands.** 1 band (grey) is repeated to 3 channels; 3 bands are colour;
  of 2 bands (grey + alpha) and 4 bands (colour + alpha, or the near
  infrared of 4-band orthophotos) the last band is dropped. More bands are
  refused with an error that says how to choose three.
- **Palette images** are expanded to their colours.
- **EXIF orientation is ignored**: pixels come in the order they are
  stored (OpenCV's ``IMREAD_UNCHANGED``). Annotations (DOTA polygons,
  masks, label maps) are in stored pixel coordinates, and label maps are
  read without rotation, so rotating only the image would misalign them.
  (mmcv's ``LoadImageFromFile`` with its default ``color_type='color'``
  does rotate JPEGs; the dataset classes therefore use our transform.)
- **Channel order** is ``'bgr'`` by default, as ``mmcv.imread`` and the
  OpenMMLab pipelines (whose data preprocessors convert to RGB); pass
  ``channel_order='rgb'`` for RGB.

Label maps (:func:`read_label`, :func:`decode_label`) are never scaled and
never converted: palette images keep their indices. Colour-coded labels
(ISPRS, iSAID masks) are read with :func:`decode_color_label`, which keeps
the exact 8-bit colours.
"""
import argparse
import os.path as osp
from typing import Optional, Tuple

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

CHANNEL_ORDERS = ('bgr', 'rgb')

_BAND_HINT = ('Choose three bands first, e.g. '
              '"gdal_translate -b 3 -b 2 -b 1 in.tif out.tif" (red, green, '
              'blue of a blue-green-red-nir file).')


def add_bit_depth_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``--bit-depth`` option of the tools that read images."""
    parser.add_argument(
        '--bit-depth',
        type=int,
        default=16,
        choices=range(8, 17),
        metavar='BITS',
        help='significant bits of 16-bit images (8..16): 16-bit pixels '
        'become round(value * 255 / (2**BITS - 1)), one fixed scale for '
        'every image; default 16 (value / 257); e.g. 12 for 12-bit sensors')


def check_options(channel_order: str, bit_depth: int) -> None:
    """Raise a ValueError for an unknown channel order or bit depth."""
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got "
                         f'{channel_order!r}')
    if isinstance(bit_depth, bool) or not isinstance(
            bit_depth, (int, np.integer)) or not 8 <= bit_depth <= 16:
        raise ValueError(f'bit_depth must be an integer in 8..16 (the '
                         'significant bits of 16-bit pixels), got '
                         f'{bit_depth!r}')


def _to_three_channels(image: np.ndarray, source: str) -> np.ndarray:
    """Grey -> 3 equal channels, drop a 2nd/4th band, refuse more bands."""
    if image.ndim == 3 and image.shape[2] in (1, 2):
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[..., :3])
    if image.ndim == 3:
        raise ValueError(f'{source!r} has {image.shape[2]} bands; images are '
                         'read with 1 (grey), 3 (colour) or 4 (colour + '
                         f'alpha or near infrared) bands. {_BAND_HINT}')
    raise ValueError(f'{source!r} has shape {image.shape}; expected an '
                     '(H, W) or (H, W, bands) image.')


def _scale_to_uint8(image: np.ndarray, source: str,
                    bit_depth: int) -> np.ndarray:
    """Apply the fixed bit-depth policy (see the module docstring)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        peak = (1 << int(bit_depth)) - 1
        # round(value * 255 / peak) in integers (no ties: peak is odd);
        # for bit_depth=16 this is round(value / 257).
        scaled = (image.astype(np.uint32) * 510 + peak) // (2 * peak)
        return np.minimum(scaled, 255).astype(np.uint8)
    kind = ('floating-point' if np.issubdtype(image.dtype, np.floating) else
            'signed or wide integer')
    raise ValueError(
        f'{source!r} has {kind} pixels ({image.dtype}); images are read as '
        '8- or 16-bit unsigned integers (an orthophoto, not reflectance or '
        'a DSM). Convert it first with one fixed scale for the whole '
        'dataset, e.g. "gdal_translate -ot UInt16 -scale <min> <max> 0 '
        '65535 in.tif out.tif".')


def to_uint8(image: Optional[np.ndarray],
             source: str = '<array>',
             channel_order: str = 'bgr',
             bit_depth: int = 16) -> np.ndarray:
    """Bring a decoded image to ``(H, W, 3)`` uint8 by the module's policy.

    Args:
        image (np.ndarray, optional): As ``cv2.imread(path,
            cv2.IMREAD_UNCHANGED)`` gives it (BGR band order), ``(H, W)``
            or ``(H, W, bands)``, uint8 or uint16; None if decoding failed.
        source (str): File (or archive member) name for error messages.
        channel_order (str): ``'bgr'`` (default) or ``'rgb'``.
        bit_depth (int): Significant bits of 16-bit pixels, 8..16.
            Defaults to 16 (``value / 257``).

    Returns:
        np.ndarray: uint8 array of shape (H, W, 3).

    Raises:
        ValueError: The image could not be decoded, or has an unsupported
            pixel type or number of bands; the message says how to fix it.
    """
    check_options(channel_order, bit_depth)
    if image is None:
        raise ValueError(
            f'Cannot decode the image {source!r}: it is not a complete image '
            'file in a format OpenCV reads (PNG, JPEG, TIFF, BMP...). TIFFs '
            'with more than 4 bands or a compression OpenCV lacks end here '
            'too: write 3 bands without compression first, e.g. '
            '"gdal_translate -b 3 -b 2 -b 1 -co COMPRESS=NONE in.tif '
            'out.tif".')
    image = _scale_to_uint8(
        _to_three_channels(image, source), source, bit_depth)
    if channel_order == 'rgb':
        image = np.ascontiguousarray(image[..., ::-1])
    return image


def decode_image(data: bytes,
                 source: str = '<bytes>',
                 channel_order: str = 'bgr',
                 bit_depth: int = 16) -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, TIFF...) by the policy.

    Args:
        data (bytes): The encoded file content.
        source (str): File (or archive member) name for error messages.
        channel_order (str): ``'bgr'`` (default) or ``'rgb'``.
        bit_depth (int): Significant bits of 16-bit pixels. Defaults to 16.

    Returns:
        np.ndarray: uint8 array of shape (H, W, 3).
    """
    check_options(channel_order, bit_depth)
    buffer = np.frombuffer(data, np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    return to_uint8(image, source, channel_order, bit_depth)


def read_image(path: str,
               channel_order: str = 'bgr',
               bit_depth: int = 16) -> np.ndarray:
    """Read an image file by the policy (see the module docstring).

    Args:
        path (str): Image file.
        channel_order (str): ``'bgr'`` (default) or ``'rgb'``.
        bit_depth (int): Significant bits of 16-bit pixels. Defaults to 16.

    Returns:
        np.ndarray: uint8 array of shape (H, W, 3).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: It cannot be decoded or has an unsupported format.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path!r} (absolute: '
                                f'{osp.abspath(path)})')
    with open(path, 'rb') as f:
        data = f.read()
    return decode_image(data, path, channel_order, bit_depth)


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image file, from its header only.

    The stored size, as :func:`read_image` returns the pixels (EXIF
    orientation is ignored).
    """
    try:
        with Image.open(path) as image:
            return image.size
    except UnidentifiedImageError as err:
        raise ValueError(f'Cannot read the image header of {path!r}: not an '
                         'image file PIL recognises.') from err


def decode_label(data: bytes, source: str = '<bytes>') -> np.ndarray:
    """Decode a label map with the values it stores.

    Palette (``P`` mode) images keep their indices, grey and 16-bit label
    maps their values; nothing is scaled, rotated or converted to colour
    (as mmseg's ``LoadAnnotations`` reads them, with Pillow). Colour
    images come back as stored, ``(H, W, 3)`` or ``(H, W, 4)`` in RGB(A)
    order, for the caller to reject or decode.

    Args:
        data (bytes): The encoded file content.
        source (str): File name for error messages.

    Returns:
        np.ndarray: ``(H, W)`` for index labels.
    """
    import io
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.array(image)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f'Cannot decode the label image {source!r}: it is '
                         'not a complete image file.') from err


def read_label(path: str) -> np.ndarray:
    """Read a label map file with the values it stores (see
    :func:`decode_label`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: It cannot be decoded.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'label image not found: {path!r}')
    with open(path, 'rb') as f:
        return decode_label(f.read(), path)


def decode_color_label(data: bytes,
                       source: str = '<bytes>',
                       channel_order: str = 'rgb') -> np.ndarray:
    """Decode a colour-coded label (ISPRS labels, iSAID masks) exactly.

    Colours are codes, not radiometry: they are never scaled. 8-bit files,
    and 16-bit files whose values fit in 8 bits, are accepted; a palette
    image is expanded to its colours and an alpha band is dropped. The
    caller checks the shape: a single-band file comes back as ``(H, W)``.

    Args:
        data (bytes): The encoded file content.
        source (str): File (or archive member) name for error messages.
        channel_order (str): ``'rgb'`` (default) or ``'bgr'``.

    Returns:
        np.ndarray: uint8 ``(H, W, 3)`` colours, or ``(H, W)``.
    """
    check_options(channel_order, 16)
    buffer = np.frombuffer(data, np.uint8)
    label = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if label is None:
        raise ValueError(f'Cannot decode the label image {source!r}.')
    if label.dtype == np.uint16 and label.max() <= 255:
        label = label.astype(np.uint8)
    if label.dtype != np.uint8:
        raise ValueError(
            f'{source!r} holds {label.dtype} values up to {label.max()}; a '
            'colour-coded label holds exact 8-bit colours.')
    if label.ndim == 3 and label.shape[2] == 4:
        label = label[..., :3]
    if label.ndim == 3 and label.shape[2] == 1:
        label = label[..., 0]
    if label.ndim == 3 and channel_order == 'rgb':
        label = label[..., ::-1]
    return np.ascontiguousarray(label)
