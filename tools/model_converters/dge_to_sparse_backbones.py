# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Convert a DGE (vtpack) or vanilla DeiT / PVT v1 checkpoint to
sparse_backbones' layout.

The result holds ``backbone.*`` and ``head.fc.*`` keys, so it serves as
``load_from`` of ``configs/cls/dge_{deit,pvt}_aid.py`` (with a matching class
count) and as ``init_cfg=dict(type='Pretrained', checkpoint=DST,
prefix='backbone.')`` of the detection and segmentation configs. Position
embeddings are resized to ``--img-size`` (the configs' ``img_size``, 256);
vanilla checkpoints get freshly initialised routers (finest split with
p = 0.95).

    python tools/model_converters/dge_to_sparse_backbones.py SRC DST
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict

import torch

from sparse_backbones.converters import convert_dge
from sparse_backbones.utils import unwrap_state_dict


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='vtpack / DeiT / PVT v1 checkpoint')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument(
        '--img-size',
        type=int,
        default=256,
        help='input size the model is built for (its img_size); position '
        'embeddings are resized to it (default: 256)')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing DST')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if osp.realpath(args.src) == osp.realpath(args.dst):
        sys.exit('error: DST is the source file; write the converted '
                 'checkpoint elsewhere')
    if osp.exists(args.dst) and not args.overwrite:
        sys.exit(f'error: {args.dst} exists; pass --overwrite to replace it')
    # vtpack's main.py stores its argparse.Namespace next to the weights;
    # allow that container and nothing else beyond tensors.
    with torch.serialization.safe_globals([argparse.Namespace]):
        checkpoint = torch.load(
            args.src, map_location='cpu', weights_only=True)
    converted = convert_dge(unwrap_state_dict(checkpoint), args.img_size)
    state_dict = OrderedDict(
        (k if k.startswith('head.') else f'backbone.{k}', v)
        for k, v in converted.items())
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(converted_from=osp.basename(args.src))), args.dst)
    print(f'wrote {len(state_dict)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
