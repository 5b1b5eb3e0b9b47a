# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Convert a DGE (vtpack) or vanilla DeiT / PVT v1 checkpoint to
sparse_backbones' layout.

The result holds ``backbone.*`` and ``head.fc.*`` keys, so it serves as
``load_from`` of ``configs/cls/dge-{deit,pvt}-tiny_8xb64_aid-256px.py``
(with a matching class count) and as ``init_cfg=dict(type='Pretrained', checkpoint=DST,
prefix='backbone.')`` of the detection and segmentation configs. Position
embeddings are resized to ``--img-size`` (the configs' ``img_size``, 256);
vanilla checkpoints get freshly initialised routers (finest split with
p = 0.95).

    python tools/model_converters/dge_to_sparse_backbones.py SRC DST
"""
import sys

from sparse_backbones.converters import convert_dge
from sparse_backbones.converters.cli import parse_converter_args, run_converter


def main(argv=None) -> int:
    args = parse_converter_args(
        __doc__.split('\n')[0],
        'vtpack / DeiT / PVT v1 checkpoint',
        argv,
        img_size=256,
        img_size_help='input size the model is built for (its img_size); '
        'position embeddings are resized to it (default: 256)')
    return run_converter(
        args, lambda state_dict: convert_dge(state_dict, args.img_size))


if __name__ == '__main__':
    sys.exit(main())
