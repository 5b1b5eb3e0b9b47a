# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Convert an official LeMeViT checkpoint to sparse_backbones' layout.

The result holds ``backbone.*`` and ``head.fc.*`` keys, so it serves as
``load_from`` of ``configs/cls/lemevit-tiny_8xb64_aid.py`` (with a matching
class count) and as ``init_cfg=dict(type='Pretrained', checkpoint=DST,
prefix='backbone.')`` of the detection and segmentation configs.

    python tools/model_converters/lemevit_to_sparse_backbones.py SRC DST
"""
import sys

from sparse_backbones.converters import convert_lemevit
from sparse_backbones.converters.cli import parse_converter_args, run_converter


def main(argv=None) -> int:
    args = parse_converter_args(
        __doc__.split('\n')[0], 'official checkpoint (timm layout)', argv)
    return run_converter(args, convert_lemevit)


if __name__ == '__main__':
    sys.exit(main())
