# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Pictures of what the dynamic parts of each design decided on an image.

``tools/visualize.py DESIGN CONFIG CKPT IMAGE --out PNG`` loads the model
with :func:`load_backbone`, the image with :func:`load_image`, and calls
``sparse_backbones.visualization.<DESIGN>.draw(backbone, inputs, image,
out)``; each design module implements ``draw`` for its own mechanism.
"""
import importlib
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

DESIGNS = ('dge', 'lit', 'ltm')
# ImageNet statistics, the default of every config in configs/.
_DEFAULT_MEAN = (123.675, 116.28, 103.53)
_DEFAULT_STD = (58.395, 57.12, 57.375)


def get_drawer(design: str):
    """Return the ``draw`` function of ``design`` (one of :data:`DESIGNS`)."""
    if design not in DESIGNS:
        raise ValueError(f'unknown design {design!r}; choose one of '
                         f'{", ".join(DESIGNS)}')
    module = importlib.import_module(f'{__name__}.{design}')
    return module.draw


def _normalisation(cfg) -> Tuple[Sequence[float], Sequence[float]]:
    for preprocessor in (cfg.get('model', {}).get('data_preprocessor'),
                         cfg.get('data_preprocessor')):
        if preprocessor and preprocessor.get('mean') is not None:
            return preprocessor['mean'], preprocessor['std']
    return _DEFAULT_MEAN, _DEFAULT_STD


def load_backbone(config: str,
                  checkpoint: Optional[str],
                  device: str = 'cpu') -> Tuple[nn.Module, dict]:
    """Build the model of ``config``, load ``checkpoint`` and return its
    backbone in eval mode, with the config's pixel mean and std.

    Args:
        config (str): Config file of any task (cls, det or seg).
        checkpoint (str, optional): A checkpoint of the whole model, as
            written by tools/train.py; ``None`` keeps the initialisation.
        device (str): Where to run.
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    from ..models import sync_in_channels
    from ..utils.checkpoint import check_checkpoint_fits

    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    sync_in_channels(cfg)
    init_default_scope(cfg.get('default_scope', 'sparse_backbones'))
    model_cfg = cfg.model.copy()
    # The pretrained weights of the backbone would be replaced by the
    # checkpoint anyway; do not fetch them.
    model_cfg.get('backbone', {}).pop('init_cfg', None)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        check_checkpoint_fits(model, checkpoint)  # the readable report
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    backbone = getattr(model, 'backbone', model).to(device)
    backbone.eval()
    mean, std = _normalisation(cfg)
    return backbone, dict(mean=mean, std=std)


def load_image(path: str,
               mean: Sequence[float],
               std: Sequence[float],
               size: Optional[Tuple[int, int]] = None,
               device: str = 'cpu',
               bit_depth: int = 16) -> Tuple[torch.Tensor, np.ndarray]:
    """Read an image as the models see it and as it is drawn.

    The pixels are those the dataset classes, the converters and
    ``tools/infer_large.py`` give the model
    (:func:`sparse_backbones.datasets.image_io.read_image`: 16-bit scaled
    by one fixed factor, never stretched per image).

    Args:
        path (str): Image file (any format OpenCV reads, grey or colour,
            8 or 16 bit).
        mean, std: Per-channel RGB normalisation of the config.
        size (tuple[int, int], optional): ``(height, width)`` to resize to.
        device (str): Where the tensor goes.
        bit_depth (int): Significant bits of 16-bit images. Defaults to 16.

    Returns:
        tuple: ``(inputs, rgb)``: a normalised ``(1, 3, H, W)`` float tensor
        and the ``(H, W, 3)`` uint8 RGB image it was made from.
    """
    import cv2

    from ..datasets.image_io import read_image

    rgb = read_image(path, channel_order='rgb', bit_depth=bit_depth)
    if size is not None:
        rgb = cv2.resize(rgb, (size[1], size[0]),
                         interpolation=cv2.INTER_LINEAR)
    inputs = torch.from_numpy(rgb).float().permute(2, 0, 1)
    inputs = (inputs - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(
        std).view(3, 1, 1)
    return inputs[None].to(device), rgb
