# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Draw what a design's dynamic parts chose on one image.

    python tools/visualize.py dge CONFIG CKPT IMAGE --out dge.png
    python tools/visualize.py lit CONFIG CKPT IMAGE --out dtm.png
    python tools/visualize.py ltm CONFIG CKPT IMAGE --out merge.png

dge: the granularity each region chose, per block (the paper's Figure 4).
lit: the sampling points of each deformable token merging stage.
ltm: the merging weights of a few seeds, for chosen blocks.
CKPT is a checkpoint written by tools/train.py for CONFIG ('none' keeps the
initial weights, e.g. to check the tool).
"""
import argparse
from typing import List, Optional

from sparse_backbones.datasets.image_io import add_bit_depth_argument
from sparse_backbones.utils.safe_load import enable_safe_checkpoint_loading
from sparse_backbones.visualization import (DESIGNS, get_drawer, load_backbone,
                                            load_image)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 2)[-1])
    parser.add_argument('design', choices=DESIGNS)
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none'")
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='resize the image to H W first (default: as it is)')
    parser.add_argument(
        '--blocks',
        type=int,
        nargs='+',
        help='blocks to draw (dge, ltm); default: the design chooses')
    add_bit_depth_argument(parser)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    enable_safe_checkpoint_loading()  # checkpoints of tools/train.py
    backbone, norm = load_backbone(args.config, checkpoint, args.device)
    inputs, rgb = load_image(args.image, norm['mean'], norm['std'], args.size,
                             args.device, args.bit_depth)
    draw = get_drawer(args.design)
    draw(backbone, inputs, rgb, args.out, blocks=args.blocks)
    print(f'wrote {args.out}')
    return args.out


if __name__ == '__main__':
    main()
