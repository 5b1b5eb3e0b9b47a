# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Cut ISPRS Potsdam or Vaihingen into patches with index labels.

Reads the official archives where they lie (nothing is unpacked into, or
written next to, them) and writes mmseg's layout::

    python tools/dataset_converters/isprs.py potsdam /datasets/potsdam \\
        --out-dir data/potsdam

    data/potsdam/img_dir/{train,val}/2_10_0_0_512_512.png
    data/potsdam/ann_dir/{train,val}/2_10_0_0_512_512.png   (0..6)

- Potsdam: ``2_Ortho_RGB.zip`` (``top_potsdam_2_10_RGB.tif``) and
  ``5_Labels_all_noBoundary.zip`` (``top_potsdam_2_10_label_noBoundary.tif``,
  eroded boundaries in black). 24 train / 14 val tiles.
- Vaihingen: ``ISPRS_semantic_labeling_Vaihingen.zip`` (IRRG
  ``top/top_mosaic_09cm_area1.tif``) and
  ``ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip``
  (``top_mosaic_09cm_area1_noBoundary.tif``). 16 train / 17 val areas;
  patches ``area1_0_0_512_512.png``.

Colour labels are decoded in RGB order (OpenCV decodes BGR; see
:func:`sparse_backbones.datasets.decode_isprs_label`) to mmseg's values:
0 boundary/unknown colour, 1 impervious surfaces, 2 building, 3 low
vegetation, 4 tree, 5 car, 6 clutter; the datasets use
``reduce_zero_label=True``. The windows are those of mmseg's converters
(:func:`sparse_backbones.datasets.clip_windows`): with the default
``--stride 512`` the output is the same patch set, 3456/2016 (Potsdam) and
344/398 (Vaihingen). Every patch is written through a temporary file, so a
rerun after an interruption simply rewrites the same files.
"""
import argparse
import os
import os.path as osp
import re
import sys
import zipfile
from typing import Dict, List, NamedTuple, Optional, Pattern, Tuple

import numpy as np
from tqdm import tqdm

from sparse_backbones.datasets._common import (check_out_dir,
                                               check_out_dir_settings,
                                               write_image_atomic)
from sparse_backbones.datasets.image_io import (add_bit_depth_argument,
                                                decode_image)
from sparse_backbones.datasets.isprs import (OFF_PALETTE_LIMIT, POTSDAM_TILES,
                                             VAIHINGEN_AREAS, clip_windows,
                                             decode_isprs_label)


class Layout(NamedTuple):
    """Where a dataset's images and labels are and how patches are named."""
    image_zip: str
    label_zip: str
    image_member: Pattern[str]  # group 1: tile id
    label_member: Pattern[str]
    splits: Dict[str, Tuple[str, ...]]
    tile_prefix: str  # patch name = f'{tile_prefix}{tile}_{x0}_{y0}_...'
    default_out: str


LAYOUTS = dict(
    potsdam=Layout(
        '2_Ortho_RGB.zip', '5_Labels_all_noBoundary.zip',
        re.compile(r'(?:^|/)top_potsdam_(\d+_\d+)_RGB\.tif$'),
        re.compile(r'(?:^|/)top_potsdam_(\d+_\d+)_label_noBoundary\.tif$'),
        POTSDAM_TILES, '', 'data/potsdam'),
    vaihingen=Layout(
        'ISPRS_semantic_labeling_Vaihingen.zip',
        'ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip',
        # Only top/: the archive also holds gts_for_participants/ files of
        # the same names (full-boundary labels).
        re.compile(r'(?:^|/)top/top_mosaic_09cm_area(\d+)\.tif$'),
        re.compile(r'(?:^|/)top_mosaic_09cm_area(\d+)_noBoundary\.tif$'),
        {
            split: tuple(str(a) for a in areas)
            for split, areas in VAIHINGEN_AREAS.items()
        },
        'area',
        'data/vaihingen'),
)


def open_archive(src: str, name: str) -> zipfile.ZipFile:
    """Open ``src/name``, saying what is expected when it is missing."""
    path = osp.join(src, name)
    if not osp.isfile(path):
        present = sorted(f for f in os.listdir(src) if f.endswith('.zip'))
        raise FileNotFoundError(
            f'{name} not found in {src!r} (zip files there: '
            f'{present or "none"}). Download it from the ISPRS benchmark '
            'page and place it in that folder, unchanged.')
    return zipfile.ZipFile(path)


def index_members(archive: zipfile.ZipFile,
                  pattern: Pattern[str]) -> Dict[str, str]:
    """Map tile id -> member name for the members matching ``pattern``."""
    members = {}
    for name in archive.namelist():
        match = pattern.search(name)
        if match:
            members[match.group(1)] = name
    if not members:
        raise ValueError(
            f'{archive.filename!r} holds no file matching '
            f'{pattern.pattern!r}; is it the right archive (RGB, not IRRG, '
            'for Potsdam; the eroded ground truth for labels)?')
    return members


def convert_tile(image: np.ndarray, label: np.ndarray, out_dir: str,
                 split: str, stem: str, clip_size: int, stride: int) -> int:
    """Write the patches of one tile; return how many."""
    height, width = label.shape
    windows = clip_windows(height, width, clip_size, stride)
    for x0, y0, x1, y1 in windows:
        name = f'{stem}_{x0}_{y0}_{x1}_{y1}.png'
        write_image_atomic(
            osp.join(out_dir, 'img_dir', split, name), image[y0:y1, x0:x1])
        write_image_atomic(
            osp.join(out_dir, 'ann_dir', split, name), label[y0:y1, x0:x1])
    return len(windows)


def convert(dataset: str,
            src: str,
            out_dir: Optional[str] = None,
            clip_size: int = 512,
            stride: int = 512,
            bit_depth: int = 16,
            accept_off_palette: bool = False) -> Dict[str, int]:
    """Convert one ISPRS dataset; return the number of patches per split.

    Args:
        dataset (str): 'potsdam' or 'vaihingen'.
        src (str): Folder holding the two official zip files.
        out_dir (str, optional): Output folder, outside ``src``. Defaults
            to data/potsdam or data/vaihingen.
        clip_size (int): Patch side. Defaults to 512.
        stride (int): Step between patch origins. Defaults to 512 (what
            mmseg's converter effectively does).
        bit_depth (int): Significant bits of 16-bit images (see
            :mod:`sparse_backbones.datasets.image_io`). Defaults to 16.
        accept_off_palette (bool): Convert labels with more than
            ``OFF_PALETTE_LIMIT`` of their pixels in colours that are no
            class (they become ignored boundary pixels) instead of refusing
            them. Either way such pixels are counted and reported.

    Returns:
        dict[str, int]: Patches written per split.
    """
    layout = LAYOUTS[dataset]
    out_dir = out_dir or layout.default_out
    if not osp.isdir(src):
        raise FileNotFoundError(
            f'{src!r} is not a folder; pass the folder that holds '
            f'{layout.image_zip} and {layout.label_zip}.')
    check_out_dir(src, out_dir)
    split_of = {
        tile: split
        for split, tiles in layout.splits.items()
        for tile in tiles
    }
    counts = {split: 0 for split in layout.splits}
    with open_archive(src, layout.image_zip) as images, \
            open_archive(src, layout.label_zip) as labels:
        image_members = index_members(images, layout.image_member)
        label_members = index_members(labels, layout.label_member)
        tiles = sorted(t for t in image_members if t in split_of)
        unlabeled = [t for t in tiles if t not in label_members]
        if unlabeled:
            raise FileNotFoundError(
                f'{layout.label_zip} has no label for tile(s) {unlabeled} '
                f'of the standard splits; expected members like '
                f'{layout.label_member.pattern!r}.')
        skipped = sorted(set(image_members) - set(split_of))
        if skipped:
            print(f'not in the standard splits, skipped: {skipped}')
        # Patches of another size or stride in the same folder would mix.
        check_out_dir_settings(
            out_dir,
            dict(clip_size=clip_size, stride=stride, bit_depth=bit_depth))
        for split in layout.splits:
            os.makedirs(osp.join(out_dir, 'img_dir', split), exist_ok=True)
            os.makedirs(osp.join(out_dir, 'ann_dir', split), exist_ok=True)
        # Refuse a bad label before anything is written.
        off_palette = {}
        for tile in tqdm(tiles, desc=f'{dataset} labels', unit='tile'):
            name = label_members[tile]
            _, found = decode_isprs_label(
                labels.read(name), name,
                None if accept_off_palette else OFF_PALETTE_LIMIT)
            if found:
                off_palette[name] = found
        for tile in tqdm(tiles, desc=dataset, unit='tile'):
            image_name, label_name = image_members[tile], label_members[tile]
            image = decode_image(
                images.read(image_name), image_name, bit_depth=bit_depth)
            label, _ = decode_isprs_label(
                labels.read(label_name), label_name, off_palette_limit=None)
            if image.shape[:2] != label.shape:
                raise ValueError(
                    f'{image_name} is {image.shape[:2]} but {label_name} is '
                    f'{label.shape}; the tile and its label must match.')
            split = split_of[tile]
            counts[split] += convert_tile(image, label, out_dir, split,
                                          layout.tile_prefix + tile, clip_size,
                                          stride)
    report_off_palette(off_palette, len(tiles))
    return counts


def report_off_palette(off_palette: Dict[str, Dict], num_labels: int) -> None:
    """Print the off-palette pixels per label file and overall."""
    if not off_palette:
        print(f'off-palette colours: none in {num_labels} label file(s)')
        return
    total = 0
    for name, found in off_palette.items():
        total += sum(found.values())
        print(f'off-palette pixels in {name}: {sum(found.values())} '
              f'({len(found)} colour(s), most frequent '
              f'{next(iter(found.items()))})')
    print(f'off-palette pixels overall: {total} in {len(off_palette)} of '
          f'{num_labels} label file(s), written as boundary (ignored)')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cut ISPRS Potsdam / Vaihingen into patches with index '
        'labels (mmseg layout).')
    parser.add_argument('dataset', choices=sorted(LAYOUTS))
    parser.add_argument(
        'src',
        help='folder with the official zips (Potsdam: 2_Ortho_RGB.zip, '
        '5_Labels_all_noBoundary.zip; Vaihingen: '
        'ISPRS_semantic_labeling_Vaihingen.zip, ISPRS_semantic_labeling_'
        'Vaihingen_ground_truth_eroded_COMPLETE.zip)')
    parser.add_argument(
        '-o',
        '--out-dir',
        help='output folder (default data/potsdam or data/vaihingen)')
    parser.add_argument('--clip-size', type=int, default=512)
    parser.add_argument(
        '--stride',
        type=int,
        default=512,
        help='step between patches (default 512 = the patches of mmseg\'s '
        'converter; 256 gives really overlapping patches)')
    add_bit_depth_argument(parser)
    parser.add_argument(
        '--accept-off-palette',
        action='store_true',
        help='convert labels with more than 0.1 %% of their pixels in '
        'colours that are no class (e.g. JPEG-compressed labels); they '
        'become ignored pixels. Without it such labels are refused')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    counts = convert(args.dataset, args.src, args.out_dir, args.clip_size,
                     args.stride, args.bit_depth, args.accept_off_palette)
    out_dir = args.out_dir or LAYOUTS[args.dataset].default_out
    print(f'wrote {counts} patches to {out_dir}/{{img_dir,ann_dir}}')
    print(f'read by configs/_base_/datasets/{args.dataset}.py (6 classes, '
          f'mIoU) and {args.dataset}_5cls.py (clutter ignored; OA, mF1, '
          'mIoU)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
