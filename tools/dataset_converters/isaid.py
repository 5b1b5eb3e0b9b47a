# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Cut iSAID into 800x800 patches and write COCO-style instance jsons.

Does what the official iSAID devkit does (``preprocess/split.py`` then
``preprocess/preprocess.py``), in one pass and without its dependencies::

    python tools/dataset_converters/isaid.py /datasets/iSAID \\
        --out-dir data/iSAID

Input (DOTA-v1.0 images with the iSAID masks next to them)::

    iSAID/{train,val}/images/P0002.png
    iSAID/{train,val}/images/P0002_instance_color_RGB.png  (class colours)
    iSAID/{train,val}/images/P0002_instance_id_RGB.png     (instance ids)
    iSAID/test/images/P0006.png

Output, read by ``configs/_base_/datasets/isaid.py``::

    data/iSAID/{train,val,test}/images/P0002_0_800_0_800.png
    data/iSAID/train/instancesonly_filtered_train.json
    data/iSAID/val/instancesonly_filtered_val.json
    data/iSAID/test/instancesonly_filtered_test.json   (images only)

Patching as the devkit: images larger than 800 in both sides are cut into
800x800 windows every 600 pixels (overlap 200), the last row and column
moved back to end at the border; other images are kept whole under their
own name. Patch names are ``<image>_<y0>_<y1>_<x0>_<x1>.png``. The devkit
skips P1527 and P1530; so does this tool (``--skip``).

Instances as the devkit: every instance id (``R + 256 G + 65536 B`` of the
id mask, ids below 1000 are background) present in a patch becomes one
annotation with its outer contours as polygons, its pixel count as area and
the class of its colour in the class mask; an instance with a contour of
fewer than three points is dropped, as the devkit drops it. Unlike the
devkit, which numbers categories by first appearance (so train and val
differ), category ids are the devkit's label ids 1..15 in both splits, and
the dummy ``background`` category (id 0, no annotation) is listed first, as
mmdet's ``projects/iSAID/isaid_json.py`` adds it. Image and annotation ids
start at 1 (pycocotools treats a matched id 0 as unmatched).
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy import ndimage
from tqdm import tqdm

from sparse_backbones.datasets._common import (check_out_dir,
                                               write_image_atomic)
from sparse_backbones.datasets.image_io import (add_bit_depth_argument,
                                                decode_color_label,
                                                decode_image)
from sparse_backbones.datasets.classes import ISAID_CLASSES, ISAID_PALETTE_RGB

PATCH_SIZE = 800
OVERLAP = 200
# Instance ids below this value are background in the devkit.
MIN_INSTANCE_ID = 1000
DEVKIT_SKIPPED = ('P1527', 'P1530')
COLOR_SUFFIX = '_instance_color_RGB.png'
ID_SUFFIX = '_instance_id_RGB.png'
_IMAGE_NAME = re.compile(r'^P\d+\.png$')


def patch_windows(height: int,
                  width: int,
                  patch_size: int = PATCH_SIZE,
                  overlap: int = OVERLAP) -> List[Tuple[int, int, int, int]]:
    """Windows ``(x0, y0, x1, y1)`` of the devkit for one image.

    Args:
        height (int): Image height.
        width (int): Image width.
        patch_size (int): Window side. Defaults to 800.
        overlap (int): Overlap of neighbouring windows. Defaults to 200.

    Returns:
        list[tuple[int, int, int, int]]: Unique windows in the devkit's
        order (columns outer, rows inner); the whole image when a side is
        not larger than ``patch_size``.
    """
    if not 0 <= overlap < patch_size:
        raise ValueError(f'overlap must be in 0..{patch_size - 1}, got '
                         f'{overlap}')
    if height <= patch_size or width <= patch_size:
        return [(0, 0, width, height)]
    step = patch_size - overlap
    windows = []
    for x in range(0, width, step):
        for y in range(0, height, step):
            x0 = min(x, width - patch_size)
            y0 = min(y, height - patch_size)
            window = (x0, y0, x0 + patch_size, y0 + patch_size)
            if window not in windows:
                windows.append(window)
    return windows


def patch_name(stem: str, window: Tuple[int, int, int, int],
               whole: bool) -> str:
    """``P0002_<y0>_<y1>_<x0>_<x1>.png``, or ``P0002.png`` when whole."""
    if whole:
        return f'{stem}.png'
    x0, y0, x1, y1 = window
    return f'{stem}_{y0}_{y1}_{x0}_{x1}.png'


def rgb_codes(image_bgr: np.ndarray) -> np.ndarray:
    """``R + 256 G + 65536 B`` per pixel of an image decoded as BGR."""
    image = image_bgr.astype(np.int64)
    return image[..., 2] + 256 * image[..., 1] + 65536 * image[..., 0]


_CLASS_OF_CODE = {
    r + 256 * g + 65536 * b: index
    for index, (r, g, b) in enumerate(ISAID_PALETTE_RGB)
}
# Share of an image's instances whose class colour is no iSAID class (the
# instance would be dropped), above which the image is refused: clean masks
# have none; lossy (JPEG) or re-coloured masks have many.
UNKNOWN_COLOUR_LIMIT = 0.001


def unknown_colour_instances(ids: np.ndarray,
                             colors: np.ndarray) -> Tuple[Dict, int]:
    """Instances whose majority class colour is no iSAID class.

    The same rule as :func:`instances_in_patch` (the majority colour of the
    instance's pixels), over a whole image.

    Returns:
        tuple[dict, int]: ``{(R, G, B): instances}`` of the unknown colours,
        and the number of instances in the image.
    """
    codes, inverse = np.unique(ids, return_inverse=True)
    inverse = inverse.reshape(-1)
    colours = colors.reshape(-1)
    keep = codes[inverse] >= MIN_INSTANCE_ID
    # Pixel count of every (instance, colour) pair, then each instance's
    # most frequent colour.
    pairs, counts = np.unique(
        inverse[keep].astype(np.int64) * (1 << 24) + colours[keep],
        return_counts=True)
    instance, colour = pairs >> 24, pairs & ((1 << 24) - 1)
    order = np.lexsort((-counts, instance))
    first = np.ones(len(order), bool)
    first[1:] = instance[order][1:] != instance[order][:-1]
    majority = colour[order][first]
    unknown: Dict[Tuple[int, int, int], int] = {}
    for code in majority.tolist():
        if code not in _CLASS_OF_CODE:
            rgb = (code & 255, (code >> 8) & 255, code >> 16)
            unknown[rgb] = unknown.get(rgb, 0) + 1
    return unknown, len(majority)


def read_mask_codes(path: str) -> np.ndarray:
    """Read an RGB-coded iSAID mask as one int64 code per pixel."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'iSAID mask not found: {path!r}')
    with open(path, 'rb') as f:
        mask = decode_color_label(f.read(), path, channel_order='bgr')
    if mask.ndim != 3:
        raise ValueError(f'{path!r} has shape {mask.shape}; iSAID masks are '
                         'RGB images (colour-coded classes / instance ids).')
    return rgb_codes(mask)


def instances_in_patch(ids: np.ndarray,
                       colors: np.ndarray) -> Tuple[List[dict], int]:
    """Annotations (without ids) of the instances in one mask patch.

    Coordinates are relative to the patch.

    Args:
        ids (np.ndarray): Instance-id codes of the patch (H, W).
        colors (np.ndarray): Class-colour codes of the patch (H, W).

    Returns:
        tuple[list[dict], int]: The annotations with ``category_id``,
        ``segmentation``, ``area``, ``bbox``, ``iscrowd``; and how many
        instances were dropped (degenerate contour or unknown colour).
    """
    annotations, dropped = [], 0
    # Work inside each instance's bounding box: a dense patch holds
    # hundreds of vehicles, and a full-patch mask per instance would cost
    # O(instances x pixels).
    codes, inverse = np.unique(ids, return_inverse=True)
    inverse = inverse.reshape(ids.shape)
    boxes = ndimage.find_objects(inverse + 1)
    for index, (code, box) in enumerate(zip(codes, boxes)):
        if code < MIN_INSTANCE_ID or box is None:
            continue
        rows, cols = box
        mask = inverse[box] == index
        values, counts = np.unique(colors[box][mask], return_counts=True)
        class_index = _CLASS_OF_CODE.get(int(values[np.argmax(counts)]))
        if class_index is None:
            dropped += 1
            continue
        contours, _ = cv2.findContours(
            mask.astype(np.uint8),
            cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE,
            offset=(cols.start, rows.start))
        polygons = [c.reshape(-1).tolist() for c in contours]
        if not polygons or min(len(p) for p in polygons) <= 4:
            dropped += 1
            continue
        ys, xs = np.nonzero(mask)
        x0, y0 = cols.start + int(xs.min()), rows.start + int(ys.min())
        annotations.append(
            dict(
                category_id=class_index + 1,
                segmentation=polygons,
                area=int(mask.sum()),
                bbox=[
                    x0, y0, cols.start + int(xs.max()) - x0 + 1,
                    rows.start + int(ys.max()) - y0 + 1
                ],
                iscrowd=0))
    return annotations, dropped


def natural_key(name: str) -> list:
    """Sort key that orders P2 before P10."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', name)]


def convert_split(src: str,
                  out_dir: str,
                  split: str,
                  patch_size: int = PATCH_SIZE,
                  overlap: int = OVERLAP,
                  skip: Sequence[str] = DEVKIT_SKIPPED,
                  bit_depth: int = 16,
                  accept_unknown_colours: bool = False) -> Dict[str, int]:
    """Patch one split and write its json; return counts.

    Args:
        src (str): iSAID root holding ``<split>/images``.
        out_dir (str): Output root.
        split (str): 'train', 'val' or 'test' (test: images only).
        patch_size (int): Window side. Defaults to 800.
        overlap (int): Window overlap. Defaults to 200.
        skip (Sequence[str]): Image stems to leave out.
        bit_depth (int): Significant bits of 16-bit images (see
            :mod:`sparse_backbones.datasets.image_io`). Defaults to 16.
        accept_unknown_colours (bool): Convert images where more than
            ``UNKNOWN_COLOUR_LIMIT`` of the instances have a class colour
            that is no iSAID class (they are dropped) instead of refusing
            them. Either way they are counted and reported.

    Returns:
        dict[str, int]: ``images``, ``patches``, ``annotations``,
        ``dropped`` (instances the devkit drops too: unknown colour or
        degenerate contour), ``unknown_colour`` (of those, the instances
        with an unknown colour, counted per image).
    """
    img_dir = osp.join(src, split, 'images')
    if not osp.isdir(img_dir):
        raise FileNotFoundError(
            f'iSAID {split} folder not found: {img_dir!r}. Expected '
            f'{split}/images/P0002.png (DOTA-v1.0 images)' +
            ('' if split == 'test' else
             f' with P0002{COLOR_SUFFIX} and P0002{ID_SUFFIX} (iSAID '
             'masks) next to them') + f' under {src!r}.')
    names = sorted((f for f in os.listdir(img_dir) if _IMAGE_NAME.match(f)),
                   key=natural_key)
    if not names:
        raise FileNotFoundError(f'No image like P0002.png in {img_dir!r}.')
    with_masks = split != 'test'
    if with_masks:
        missing = [
            n[:-4] + suffix for n in names
            for suffix in (COLOR_SUFFIX, ID_SUFFIX)
            if not osp.isfile(osp.join(img_dir, n[:-4] + suffix))
        ]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} iSAID mask(s) missing in {img_dir!r}, e.g. '
                f'{missing[:3]}; download the instance masks of the {split} '
                'split and unpack them next to the images.')

    out_img_dir = osp.join(out_dir, split, 'images')
    os.makedirs(out_img_dir, exist_ok=True)
    images, annotations = [], []
    dropped = unknown_total = 0
    for name in tqdm(names, desc=f'iSAID {split}', unit='image'):
        stem = name[:-4]
        if stem in skip:
            continue
        with open(osp.join(img_dir, name), 'rb') as f:
            image = decode_image(f.read(), name, bit_depth=bit_depth)
        height, width = image.shape[:2]
        if with_masks:
            colors = read_mask_codes(osp.join(img_dir, stem + COLOR_SUFFIX))
            ids = read_mask_codes(osp.join(img_dir, stem + ID_SUFFIX))
            if colors.shape != (height, width) or ids.shape != colors.shape:
                raise ValueError(
                    f'{name} is {height}x{width} but its masks are '
                    f'{colors.shape} / {ids.shape}.')
            unknown, instances = unknown_colour_instances(ids, colors)
            lost = sum(unknown.values())
            if lost:
                top = ', '.join(f'{c}: {n}'
                                for c, n in list(unknown.items())[:5])
                message = (f'{stem}{COLOR_SUFFIX}: {lost} of {instances} '
                           f'instances have a class colour that is no iSAID '
                           f'class ({top}); they are dropped.')
                if lost > UNKNOWN_COLOUR_LIMIT * instances and \
                        not accept_unknown_colours:
                    raise ValueError(
                        message + ' Lossy (JPEG) or re-coloured masks are '
                        'the usual cause; use the original PNG masks, or '
                        'pass --accept-unknown-colours to convert anyway.')
                print(message)
                unknown_total += lost
        windows = patch_windows(height, width, patch_size, overlap)
        whole = windows == [(0, 0, width, height)]
        for window in windows:
            x0, y0, x1, y1 = window
            file_name = patch_name(stem, window, whole)
            write_image_atomic(
                osp.join(out_img_dir, file_name), image[y0:y1, x0:x1])
            image_id = len(images) + 1
            images.append(
                dict(
                    id=image_id,
                    file_name=file_name,
                    width=x1 - x0,
                    height=y1 - y0))
            if not with_masks:
                continue
            found, lost = instances_in_patch(ids[y0:y1, x0:x1], colors[y0:y1,
                                                                       x0:x1])
            dropped += lost
            for annotation in found:
                annotation.update(id=len(annotations) + 1, image_id=image_id)
                annotations.append(annotation)

    categories = [dict(id=0, name='background')] + [
        dict(id=i + 1, name=name) for i, name in enumerate(ISAID_CLASSES)
    ]
    json_path = osp.join(out_dir, split,
                         f'instancesonly_filtered_{split}.json')
    tmp = f'{json_path}.tmp-{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(
            dict(
                images=images, annotations=annotations, categories=categories),
            f)
    os.replace(tmp, json_path)
    return dict(
        images=len(names),
        patches=len(images),
        annotations=len(annotations),
        dropped=dropped,
        unknown_colour=unknown_total)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cut iSAID into 800x800 patches (overlap 200) and write '
        'COCO-style instance jsons, as the official devkit.')
    parser.add_argument('src', help='iSAID root with {train,val,test}/images/')
    parser.add_argument(
        '-o',
        '--out-dir',
        default='data/iSAID',
        help='output root, outside src (default data/iSAID)')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['train', 'val'],
        choices=['train', 'val', 'test'])
    parser.add_argument('--patch-size', type=int, default=PATCH_SIZE)
    parser.add_argument('--overlap', type=int, default=OVERLAP)
    parser.add_argument(
        '--skip',
        nargs='*',
        default=list(DEVKIT_SKIPPED),
        help='image stems to leave out (default: the devkit\'s P1527 '
        'P1530)')
    add_bit_depth_argument(parser)
    parser.add_argument(
        '--accept-unknown-colours',
        action='store_true',
        help='convert images where more than 0.1 %% of the instances have a '
        'class colour that is no iSAID class (they are dropped); without it '
        'such images are refused')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isdir(args.src):
        raise FileNotFoundError(
            f'iSAID folder not found: {args.src!r}; pass the folder holding '
            'train/images, val/images (and test/images).')
    check_out_dir(args.src, args.out_dir)
    for split in args.splits:
        counts = convert_split(args.src, args.out_dir, split, args.patch_size,
                               args.overlap, args.skip, args.bit_depth,
                               args.accept_unknown_colours)
        print(f'{split}: {counts}')
    print('read by configs/_base_/datasets/isaid.py '
          f'(data_root={args.out_dir!r})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
