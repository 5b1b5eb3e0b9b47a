# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The parts every ``tools/model_converters/*.py`` script shares: argument
parsing, safe loading of the upstream file and writing our layout."""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Callable, Dict, List, Optional

import torch

from ..utils import unwrap_state_dict
from ..utils.safe_load import (describe_unreadable_checkpoint,
                               foreign_globals_in_file,
                               safe_checkpoint_loading)
from .layout import ForeignCheckpointError


def parse_converter_args(description: str,
                         src_help: str,
                         argv: Optional[List[str]] = None,
                         img_size: Optional[int] = None,
                         img_size_help: str = '') -> argparse.Namespace:
    """SRC DST [--overwrite], plus ``--img-size`` when ``img_size`` is set
    (its default)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help=src_help)
    parser.add_argument('dst', help='converted checkpoint to write')
    if img_size is not None:
        parser.add_argument(
            '--img-size', type=int, default=img_size, help=img_size_help)
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing DST')
    return parser.parse_args(argv)


def check_destination(src: str, dst: str, overwrite: bool) -> None:
    """Never overwrite the source, nor an existing DST unless asked."""
    if osp.realpath(src) == osp.realpath(dst):
        sys.exit('error: DST is the source file; write the converted '
                 'checkpoint elsewhere')
    if osp.exists(dst) and not overwrite:
        sys.exit(f'error: {dst} exists; pass --overwrite to replace it')


def load_upstream_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """The unwrapped state dict of an upstream checkpoint.

    Loaded with ``weights_only=True``: tensors, containers, the
    ``argparse.Namespace`` that timm / DeiT-style training scripts store next
    to the weights and what mmengine's training checkpoints hold (see
    :mod:`sparse_backbones.utils.safe_load`). Other Python objects (e.g. a
    yacs config) are refused with instructions, never unpickled: unpickling
    can run code. Any file torch cannot read ends the program with a
    message saying what it is (exit status 1), never a traceback.
    """
    if not osp.isfile(path):
        sys.exit(f'error: {path} not found (or not a file); pass the '
                 'downloaded checkpoint as SRC')
    # Described under the same allow-list as loaded.
    with safe_checkpoint_loading([argparse.Namespace]):
        try:
            checkpoint = torch.load(
                path, map_location='cpu', weights_only=True)
        except Exception as error:  # noqa: BLE001  (any damage: described)
            # Never suggest an unrestricted load: that is what runs the code.
            message = describe_unreadable_checkpoint(path, error)
            if foreign_globals_in_file(path):
                message += (' If you do, keep only its weights first, in an '
                            'environment with those packages (e.g. yacs), '
                            'and convert the result; otherwise ask its '
                            'authors for a weights-only checkpoint.')
            sys.exit(f'error: {message}')
    return unwrap_state_dict(checkpoint)


def save_converted(converted: Dict[str, torch.Tensor], src: str, dst: str,
                   **meta) -> None:
    """Write ``backbone.*`` (and ``head.*``) keys, so DST serves as
    ``load_from`` of a classification config and as the ``Pretrained``
    checkpoint (``prefix='backbone.'``) of detection/segmentation ones."""
    state_dict = OrderedDict(
        (k if k.startswith('head.') else f'backbone.{k}', v)
        for k, v in converted.items())
    torch.save(
        dict(
            state_dict=state_dict,
            meta=dict(converted_from=osp.basename(src), **meta)), dst)
    print(f'wrote {len(state_dict)} tensors to {dst}')


def run_converter(args: argparse.Namespace,
                  convert: Callable[[Dict[str, torch.Tensor]],
                                    Dict[str, torch.Tensor]],
                  **meta) -> int:
    """Check paths, load, convert and save: the whole of a converter CLI."""
    check_destination(args.src, args.dst, args.overwrite)
    try:
        converted = convert(load_upstream_checkpoint(args.src))
    except ForeignCheckpointError as error:  # another model's weights
        sys.exit(f'error: {error.of(args.src)}')
    save_converted(converted, args.src, args.dst, **meta)
    return 0
