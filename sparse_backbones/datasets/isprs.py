# Copyright (c) sparse_backbones contributors. All rights reserved.
"""ISPRS Potsdam / Vaihingen colour labels.

The ISPRS benchmark ships its ground truth as RGB images coloured with a
six-colour palette; mmseg's converters (``tools/dataset_converters/
potsdam.py`` and ``vaihingen.py``) turn them into single-channel index PNGs
with 0 for the black eroded boundaries and 1..6 for the classes, which
``PotsdamDataset(reduce_zero_label=True)`` maps to 255 (ignored) and 0..5.

The converter reads the labels with ``mmcv.imread`` (BGR) and therefore
lists its colour table in BGR order; mixing the two orders up is the most
reported Potsdam data bug (mmseg#2867). This module works in RGB only.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

from .image_io import decode_color_label

# (R, G, B) of a label colour.
Colour = Tuple[int, int, int]

ISPRS_CLASSES: Tuple[str, ...] = ('impervious_surface', 'building',
                                  'low_vegetation', 'tree', 'car', 'clutter')

# RGB colour of each class in ISPRS_CLASSES order (index PNG value - 1).
ISPRS_PALETTE_RGB: Tuple[Tuple[int, int, int], ...] = (
    (255, 255, 255),  # impervious surfaces
    (0, 0, 255),  # building
    (0, 255, 255),  # low vegetation
    (0, 255, 0),  # tree
    (255, 255, 0),  # car
    (255, 0, 0),  # clutter / background
)

# Index written for pixels whose colour is not in the palette, i.e. the
# black eroded boundaries of the ``*_noBoundary`` labels.
ISPRS_BOUNDARY_INDEX = 0


def _pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack the last (R, G, B) axis into one int32 code per pixel."""
    rgb = rgb.astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def isprs_rgb_to_index(label_rgb: np.ndarray) -> np.ndarray:
    """Decode an ISPRS colour label (RGB order) into mmseg's index labels.

    The result is what mmseg's Potsdam/Vaihingen converters write to
    ``ann_dir``: impervious surfaces 1, building 2, low vegetation 3, tree 4,
    car 5, clutter 6, and 0 for every other colour (the black boundaries).
    Colours are matched exactly on all three channels; the converter hashes
    them as ``2B + 3G + 4R``, which gives the same result for the palette and
    for black but could map some off-palette colours onto a class.

    Args:
        label_rgb (np.ndarray): Colour label of shape (H, W, 3) in **RGB**
            order with values in [0, 255]. Images read with ``cv2.imread`` or
            ``mmcv.imread`` are BGR: pass ``img[..., ::-1]``.

    Returns:
        np.ndarray: uint8 array of shape (H, W) with values in 0..6.
    """
    label_rgb = np.asarray(label_rgb)
    if label_rgb.ndim != 3 or label_rgb.shape[-1] != 3:
        raise ValueError('isprs_rgb_to_index expects an RGB label of shape '
                         f'(H, W, 3), got shape {label_rgb.shape}; '
                         'single-channel input is probably already an index '
                         'label.')
    if not np.issubdtype(label_rgb.dtype, np.integer):
        raise TypeError('isprs_rgb_to_index expects integer colour values '
                        f'(uint8), got dtype {label_rgb.dtype}.')
    codes = _pack_rgb(label_rgb)
    index = np.full(codes.shape, ISPRS_BOUNDARY_INDEX, dtype=np.uint8)
    for class_index, colour in enumerate(ISPRS_PALETTE_RGB, start=1):
        index[codes == _pack_rgb(np.array(colour))] = class_index
    return index


# Standard tile splits of mmseg's converters (and of the RS papers).
POTSDAM_TILES = dict(
    train=('2_10', '2_11', '2_12', '3_10', '3_11', '3_12', '4_10', '4_11',
           '4_12', '5_10', '5_11', '5_12', '6_10', '6_11', '6_12', '6_7',
           '6_8', '6_9', '7_10', '7_11', '7_12', '7_7', '7_8', '7_9'),
    val=('5_15', '6_15', '6_13', '3_13', '4_14', '6_14', '5_14', '2_13',
         '4_15', '2_14', '5_13', '4_13', '3_14', '7_13'))
VAIHINGEN_AREAS = dict(
    train=(1, 3, 5, 7, 11, 13, 15, 17, 21, 23, 26, 28, 30, 32, 34, 37),
    val=(2, 4, 6, 8, 10, 12, 14, 16, 20, 22, 24, 27, 29, 31, 33, 35, 38))


def clip_windows(height: int, width: int, clip_size: int,
                 stride: int) -> List[Tuple[int, int, int, int]]:
    """Windows ``(x0, y0, x1, y1)`` that tile an image, row by row.

    Origins step by ``stride``; the last row and column are moved back to
    end at the border, so every window is ``clip_size`` square (or the
    whole side when the image is smaller). With ``stride == clip_size``
    this is exactly the set of patches mmseg's Potsdam/Vaihingen converters
    write with their defaults (``--clip_size 512 --stride_size 256``): they
    place windows at multiples of the clip size, so their stride has no
    effect (144 patches per 6000x6000 Potsdam tile).

    Args:
        height (int): Image height.
        width (int): Image width.
        clip_size (int): Window side.
        stride (int): Step between window origins, in 1..clip_size.

    Returns:
        list[tuple[int, int, int, int]]: The windows, without duplicates.
    """
    if not 0 < stride <= clip_size:
        raise ValueError(f'stride must be in 1..clip_size ({clip_size}), '
                         f'got {stride}: a larger step would skip pixels.')

    def starts(size: int) -> List[int]:
        if size <= clip_size:
            return [0]
        return list(range(0, size - clip_size, stride)) + [size - clip_size]

    return [(x0, y0, min(x0 + clip_size, width), min(y0 + clip_size, height))
            for y0 in starts(height) for x0 in starts(width)]


# Share of a label's pixels whose colour is neither a class nor the black
# boundary, above which a converter refuses the file: they would silently
# become boundary (ignored) pixels. Clean ISPRS labels have none; a
# JPEG-compressed label has a large share (58 % in one test).
OFF_PALETTE_LIMIT = 0.001
# Distinct off-palette colours from which the file looks JPEG-compressed.
_JPEG_LIKE_COLOURS = 32


def off_palette_colours(label_rgb: np.ndarray) -> Dict[Colour, int]:
    """Pixels per colour that is neither in :data:`ISPRS_PALETTE_RGB` nor
    the black boundary, most frequent first.

    Args:
        label_rgb (np.ndarray): (H, W, 3) colour label in RGB order.
    """
    codes = _pack_rgb(np.asarray(label_rgb))
    known = [_pack_rgb(np.array(c)) for c in ISPRS_PALETTE_RGB] + [0]
    values, counts = np.unique(
        codes[~np.isin(codes, known)], return_counts=True)
    order = np.argsort(-counts, kind='stable')
    return {(int(v >> 16) & 255, int(v >> 8) & 255, int(v) & 255): int(c)
            for v, c in zip(values[order], counts[order])}


def describe_off_palette(found: Dict[Colour, int], total: int,
                         source: str) -> str:
    """One line: how many pixels of ``source`` are off the palette, the
    most frequent colours, and the likely cause."""
    count = sum(found.values())
    top = ', '.join(f'{colour}: {n}' for colour, n in list(found.items())[:5])
    more = f' and {len(found) - 5} more' if len(found) > 5 else ''
    cause = (' The many colours suggest a JPEG-compressed (lossy) label; '
             'use the original lossless TIFF/PNG labels.'
             if len(found) >= _JPEG_LIKE_COLOURS
             or source.lower().endswith(('.jpg', '.jpeg')) else '')
    return (f'{source}: {count} of {total} pixels ({100 * count / total:.2f} '
            f'%) have colours that are no ISPRS class ({top}{more}); they '
            f'become boundary (ignored) pixels.{cause}')


def decode_isprs_label(
        data: bytes,
        source: str,
        off_palette_limit: Optional[float] = OFF_PALETTE_LIMIT
) -> Tuple[np.ndarray, Dict[Colour, int]]:
    """Decode an encoded ISPRS colour label file to index values 0..6.

    :func:`~sparse_backbones.datasets.image_io.decode_color_label` decodes
    the exact colours in RGB order, once, and :func:`isprs_rgb_to_index`
    matches the RGB palette. 16-bit files with 8-bit values and an alpha
    band are accepted.

    Args:
        data (bytes): Content of a label TIFF/PNG.
        source (str): File (or archive member) name for error messages.
        off_palette_limit (float, optional): Largest share of pixels with
            colours off the palette (see :data:`OFF_PALETTE_LIMIT`); None
            accepts any.

    Returns:
        tuple: uint8 index array (H, W) with values in 0..6, and the
        off-palette colour counts (:func:`off_palette_colours`).

    Raises:
        ValueError: Not an RGB label, or more off-palette pixels than
            ``off_palette_limit`` allows.
    """
    label = decode_color_label(data, source, channel_order='rgb')
    if label.ndim != 3:
        raise ValueError(
            f'{source!r} has shape {label.shape}; an ISPRS label is an RGB '
            'colour image. Single-channel files are probably index labels '
            'already (0 boundary, 1..6 classes).')
    found = off_palette_colours(label)
    total = label.shape[0] * label.shape[1]
    if off_palette_limit is not None and \
            sum(found.values()) > off_palette_limit * total:
        raise ValueError(
            describe_off_palette(found, total, source) +
            f' Refused above {100 * off_palette_limit:g} %; to convert '
            'anyway, pass --accept-off-palette.')
    return isprs_rgb_to_index(label), found
