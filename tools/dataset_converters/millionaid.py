# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Write the MillionAID train/val list files of the scene pretraining.

RSP ("An Empirical Study of Remote Sensing Pretraining") and LeMeViT train
on MillionAID's 51 leaf classes with 1,000 random images of each class held
out for validation. Their list files and seed were never published (the
facts and sources are in :mod:`sparse_backbones.datasets.millionaid`), so
this tool draws the same protocol with a fixed seed, deterministically (the
same files on every machine), without touching the unpacked tree::

    python tools/dataset_converters/millionaid.py /datasets/MillionAID/train \\
        --out-dir data/millionaid

writes ``data/millionaid/images`` (a link to the tree) and
``data/millionaid/meta/{train,val}.txt`` with lines
``agriculture_land/arable_land/dry_field/P0960374.jpg 0``, read by
``configs/_base_/datasets/millionaid_rand-aug_224.py``.

The protocol needs more than 1,000 labelled images per class, i.e. the full
labelled MillionAID; the public train archive has 10,000 labelled images
in all (the test archive is unlabelled). For it, ``--val-percent 10``
holds out 10 % of each class instead (no published protocol; results are
not comparable with the papers').

Exit status: 0 when the files were written, 2 when the tree or the output
folder is wrong (the message says what and how to fix it).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from sparse_backbones.datasets._common import check_out_dir
from sparse_backbones.datasets.millionaid_split import (RSP_VAL_PER_CLASS,
                                                        find_millionaid_root,
                                                        make_millionaid_split)

DEFAULT_OUT = 'data/millionaid'
CONFIG = 'configs/_base_/datasets/millionaid_rand-aug_224.py'


def link_images(img_root: str, out_dir: str, create: bool = True) -> str:
    """Make ``out_dir/images`` point at ``img_root``; return its path.

    With ``create=False`` only check that an existing entry is that link.
    """
    link = osp.join(out_dir, 'images')
    if osp.lexists(link):
        if osp.realpath(link) != osp.realpath(img_root):
            raise FileExistsError(
                f'{link!r} exists and is not a link to {img_root!r}. '
                'Remove it or choose another --out-dir.')
        return link
    if create:
        os.makedirs(out_dir, exist_ok=True)
        os.symlink(osp.abspath(img_root), link, target_is_directory=True)
    return link


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write deterministic MillionAID train/val list files '
        '(meta/train.txt, meta/val.txt). Default: the RSP/LeMeViT protocol, '
        f'{RSP_VAL_PER_CLASS} random images per leaf class for validation '
        'and the rest for training, drawn with --seed (their own lists '
        'were never published, so the images differ).')
    parser.add_argument(
        'src',
        help='the unpacked labelled tree: the folder holding '
        'agriculture_land/, commercial_land/, ... (or its parent with '
        'train/); it is never written to')
    parser.add_argument(
        '-o',
        '--out-dir',
        default=DEFAULT_OUT,
        help=f'output folder (default: {DEFAULT_OUT}); must lie outside src')
    held_out = parser.add_mutually_exclusive_group()
    held_out.add_argument(
        '--val-per-class',
        type=int,
        default=RSP_VAL_PER_CLASS,
        help='validation images per class (default: '
        f'{RSP_VAL_PER_CLASS}, RSP and LeMeViT); every class needs more')
    held_out.add_argument(
        '--val-percent',
        type=float,
        help='hold out this percentage of each class instead, e.g. 10 for '
        'the 10,000-image public train archive (not a published protocol)')
    parser.add_argument(
        '--seed', type=int, default=0, help='split seed (default: 0)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing list files in out_dir/meta')
    parser.add_argument(
        '--no-link',
        action='store_true',
        help='do not create out_dir/images -> src; then set data_prefix in '
        'the config to the tree yourself')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the split; return the exit status (0, or 2 on bad input)."""
    args = parse_args(argv)
    try:
        img_root = find_millionaid_root(args.src)
        check_out_dir(args.src, args.out_dir)
        if not args.no_link:
            # Before writing, so that a refusal leaves nothing behind.
            link_images(img_root, args.out_dir, create=False)
        split = make_millionaid_split(
            img_root,
            args.out_dir,
            val_per_class=args.val_per_class,
            val_percent=args.val_percent,
            seed=args.seed,
            overwrite=args.overwrite)
        link = None if args.no_link else link_images(img_root, args.out_dir)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    protocol = (f'{args.val_percent:g} % of each class'
                if args.val_percent is not None else
                f'{args.val_per_class} image(s) of each class')
    print(f'MillionAID: images in {img_root}')
    if link:
        print(f'linked {link} -> {osp.abspath(img_root)}')
    print(f'wrote {split.train_file} ({sum(split.num_train.values())} '
          f'images) and {split.val_file} ({sum(split.num_val.values())} '
          f'images): {len(split.num_val)} classes, {protocol} held out for '
          f'validation, seed {args.seed}')
    note = ''
    if osp.normpath(args.out_dir) != osp.normpath(DEFAULT_OUT):
        note = (f' (it expects data_root={DEFAULT_OUT!r}; set '
                f'data_root={args.out_dir!r})')
    print(f'  read by {CONFIG}{note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
