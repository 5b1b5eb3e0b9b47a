# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Convert an official LIT checkpoint to sparse_backbones' layout.

Takes the ImageNet checkpoints (``lit_ti.pth``, ``lit_s/m/b.pth``: weights
under ``model``) and the v2.0 mmdet/mmseg ones (``state_dict``,
``backbone.`` prefix). The result holds ``backbone.*`` (and, for ImageNet
checkpoints, ``head.fc.*``) keys, so it serves as ``load_from`` of
``configs/cls/lit-s_8xb64_aid.py`` (with a matching class count and arch) and
as ``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` of
the detection and segmentation configs.

    python tools/model_converters/lit_to_sparse_backbones.py SRC DST

Relative-position tables and position embeddings are resized to the grids
of ``--img-size`` (the ``pretrain_img_size`` of the model that loads them;
224 by default, also for detection/segmentation checkpoints, whose tables
were learned for 800 or 512 pixels).
"""
import sys

from sparse_backbones.converters import convert_lit
from sparse_backbones.converters.cli import parse_converter_args, run_converter


def main(argv=None) -> int:
    args = parse_converter_args(
        __doc__.split('\n')[0],
        'official checkpoint',
        argv,
        img_size=224,
        img_size_help='pretrain_img_size of the model that will load DST')

    def convert(state_dict):
        converted = convert_lit(state_dict, pretrain_img_size=args.img_size)
        if not any(k.startswith('stages.') for k in converted):
            sys.exit(f'error: {args.src} holds no LIT weights (no block or '
                     f'patch_embed keys after unwrapping)')
        return converted

    return run_converter(args, convert, pretrain_img_size=args.img_size)


if __name__ == '__main__':
    sys.exit(main())
