# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Parameters and multiply-adds of the backbone of a config.

    python tools/get_flops.py configs/cls/lemevit-tiny_8xb64_aid.py \
        --shape 224 224 --cfg-options model.backbone.arch=small
"""
import argparse

from mmengine.config import Config, DictAction

import sparse_backbones  # noqa: F401  (registers the backbones)
from sparse_backbones.registry import MODELS
from sparse_backbones.layers.complexity import count_macs, count_parameters


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=(224, 224),
                        metavar=('H', 'W'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.pop('init_cfg', None)
    backbone = MODELS.build(backbone_cfg)
    macs = count_macs(backbone, (1, 3, *args.shape))
    print(f'backbone: {backbone_cfg.type} {backbone_cfg.get("arch")}\n'
          f'input: 1x3x{args.shape[0]}x{args.shape[1]}\n'
          f'params: {count_parameters(backbone) / 1e6:.2f} M\n'
          f'MACs: {macs / 1e9:.2f} G')


if __name__ == '__main__':
    main()
