# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Convert an official LIT checkpoint to sparse_backbones' layout.

Takes the ImageNet checkpoints (``lit_ti.pth``, ``lit_s/m/b.pth``: weights
under ``model``) and the v2.0 mmdet/mmseg ones (``state_dict``,
``backbone.`` prefix). The result holds ``backbone.*`` (and, for ImageNet
checkpoints, ``head.fc.*``) keys, so it serves as ``load_from`` of
``configs/cls/lit_aid.py`` (with a matching class count and arch) and as
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')`` of
the detection and segmentation configs.

    python tools/model_converters/lit_to_sparse_backbones.py SRC DST

Relative-position tables and position embeddings are resized to the grids
of ``--img-size`` (the ``pretrain_img_size`` of the model that loads them;
224 by default, also for detection/segmentation checkpoints, whose tables
were learned for 800 or 512 pixels).
"""
import argparse
import os.path as osp
import pickle
import sys
from collections import OrderedDict

import torch

from sparse_backbones.converters import convert_lit
from sparse_backbones.utils import unwrap_state_dict


def load_checkpoint(path: str):
    """Load ``path`` with ``weights_only=True``: tensors, containers,
    mmengine's types and the argparse namespace of the LIT-Ti training
    code. Other Python objects (the yacs config the LIT-S/M/B training code
    stores) are refused with instructions, never unpickled."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        sys.exit(
            f'error: {path} holds Python objects besides the weights '
            f'({", ".join(unsafe) or error}), and unpickling them can run '
            f'code. If you trust the file, keep only its weights first (in '
            f'an environment with those packages, e.g. yacs), then convert '
            f'the result:\n  python -c "import torch; torch.save('
            f'{{\'model\': torch.load(\'{path}\', weights_only=False)'
            f'[\'model\']}}, \'weights.pth\')"')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official checkpoint')
    parser.add_argument('dst', help='converted checkpoint to write')
    parser.add_argument(
        '--img-size',
        type=int,
        default=224,
        help='pretrain_img_size of the model that will load DST')
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
    checkpoint = load_checkpoint(args.src)
    converted = convert_lit(
        unwrap_state_dict(checkpoint), pretrain_img_size=args.img_size)
    if not any(k.startswith('stages.') for k in converted):
        sys.exit(f'error: {args.src} holds no LIT weights (no block or '
                 f'patch_embed keys after unwrapping)')
    state_dict = OrderedDict(
        (k if k.startswith('head.') else f'backbone.{k}', v)
        for k, v in converted.items())
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(
                converted_from=osp.basename(args.src),
                pretrain_img_size=args.img_size)), args.dst)
    print(f'wrote {len(state_dict)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
