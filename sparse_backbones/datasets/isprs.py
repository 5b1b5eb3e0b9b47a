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
from typing import Tuple

import numpy as np

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
