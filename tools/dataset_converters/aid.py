# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Write the train/test split files of AID, NWPU-RESISC45 or UC Merced.

Scene classification papers train on a random per-class share of the images
and test on the rest, repeated with several seeds: AID 20 % and 50 %,
NWPU-RESISC45 10 % and 20 %, UC Merced 80 %. This tool writes those splits
once, deterministically (the same files on every machine), without touching
the downloaded folder::

    python tools/dataset_converters/aid.py aid /datasets/AID --out-dir data/AID

writes ``data/AID/images`` (a link to ``/datasets/AID``) and
``data/AID/splits/train_20_seed0.txt`` ... ``test_50_seed4.txt`` (lines
``Airport/airport_1.jpg 0``), and names the dataset configs that read them
(``configs/_base_/datasets/aid_train20.py`` ...). The split itself is
:func:`sparse_backbones.datasets.make_scene_split`. Reruns rewrite the same
files.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from sparse_backbones.datasets._common import check_out_dir
from sparse_backbones.datasets.aid_split import (SCENE_DATASETS,
                                                 aid_split_names,
                                                 make_scene_split)
from sparse_backbones.utils.mim import shipped_config

DEFAULT_OUT = dict(
    aid='data/AID', nwpu='data/NWPU-RESISC45', ucm='data/UCMerced_LandUse')


def find_image_root(src: str, dataset: str) -> str:
    """Return the folder under ``src`` that directly holds the classes.

    Accepts the class-folder root itself or a parent with a single
    sub-folder on the way (``UCMerced_LandUse/Images``, an extra
    ``NWPU-RESISC45/`` level of some archive tools).

    Args:
        src (str): The folder the user passed.
        dataset (str): Key of ``SCENE_DATASETS``.

    Returns:
        str: The class-folder root (checked later by the split writer).
    """
    spec = SCENE_DATASETS[dataset]
    if not osp.isdir(src):
        raise FileNotFoundError(
            f'{spec.title} folder not found: {src!r}. To fix: '
            f'{spec.download}.')
    root = src
    for _ in range(2):
        entries = [e for e in os.listdir(root) if not e.startswith('.')]
        if any(e in spec.classes for e in entries):
            return root
        folders = [e for e in entries if osp.isdir(osp.join(root, e))]
        if len(folders) != 1:
            break
        root = osp.join(root, folders[0])
    return src  # make_scene_split says what is wrong with it


def link_images(img_root: str, out_dir: str) -> str:
    """Make ``out_dir/images`` point at ``img_root``; return its path."""
    link = osp.join(out_dir, 'images')
    if osp.lexists(link):
        if osp.realpath(link) != osp.realpath(img_root):
            raise FileExistsError(
                f'{link!r} exists and is not a link to {img_root!r}. '
                'Remove it or choose another --out-dir.')
        return link
    os.makedirs(out_dir, exist_ok=True)
    os.symlink(osp.abspath(img_root), link, target_is_directory=True)
    return link


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write deterministic stratified train/test split files '
        'for AID, NWPU-RESISC45 or UC Merced.')
    parser.add_argument(
        'dataset', choices=sorted(SCENE_DATASETS), help='which dataset')
    parser.add_argument(
        'src',
        help='the downloaded, unpacked folder (one sub-folder per class; '
        'for UC Merced the folder holding Images/ works too)')
    parser.add_argument(
        '-o',
        '--out-dir',
        help='output folder (default: data/AID, data/NWPU-RESISC45 or '
        'data/UCMerced_LandUse); must lie outside src')
    parser.add_argument(
        '--train-percents',
        type=int,
        nargs='+',
        help='training percentages (default: the published protocols: AID '
        '20 50, NWPU 10 20, UCM 80)')
    parser.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        default=[0, 1, 2, 3, 4],
        help='split seeds (default: 0 1 2 3 4)')
    parser.add_argument(
        '--no-link',
        action='store_true',
        help='do not create out_dir/images -> src; then set data_prefix in '
        'the config to the class-folder root yourself')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    spec = SCENE_DATASETS[args.dataset]
    out_dir = args.out_dir or DEFAULT_OUT[args.dataset]
    img_root = find_image_root(args.src, args.dataset)
    check_out_dir(args.src, out_dir)
    percents = args.train_percents or list(spec.train_percents)

    split_dir = osp.join(out_dir, 'splits')
    for percent in percents:
        for seed in args.seeds:
            make_scene_split(img_root, split_dir, percent, seed, args.dataset)
    link = None if args.no_link else link_images(img_root, out_dir)

    print(f'{spec.title}: images in {img_root}')
    if link:
        print(f'linked {link} -> {osp.abspath(img_root)}')
    for percent in percents:
        names = [aid_split_names(percent, seed) for seed in args.seeds]
        print(f'wrote {len(names) * 2} files to {split_dir}: '
              f'{names[0][0]}, {names[0][1]}, ... (seeds {args.seeds})')
        # Found from the package, not the working directory.
        config = shipped_config(f'_base_/datasets/{spec.config_stem}_train'
                                f'{percent}.py')
        if osp.isfile(config):
            print(f'  read by {config} (seed {args.seeds[0]} there: '
                  f'{names[0][0]}); another seed s: --cfg-options '
                  f'train_dataloader.dataset.ann_file=splits/'
                  f'train_{percent}_seed<s>.txt '
                  f'val_dataloader.dataset.ann_file=splits/'
                  f'test_{100 - percent}_seed<s>.txt '
                  f'test_dataloader.dataset.ann_file=splits/'
                  f'test_{100 - percent}_seed<s>.txt')
        else:
            print(f'  no dataset config for {percent} % ships; copy '
                  f'configs/_base_/datasets/{spec.config_stem}_train'
                  f'{spec.train_percents[0]}.py and change the split names')
    if out_dir != DEFAULT_OUT[args.dataset]:
        print(f'  (the configs expect data_root={DEFAULT_OUT[args.dataset]!r}'
              f'; set data_root={out_dir!r})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
