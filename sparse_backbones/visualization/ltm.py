# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Where LTM's merged tokens come from, drawn over the image.

For each chosen block, two panels (the picture of the official
``figures/tokens.png``): the groups of tokens that merge into the same seed
(each token coloured by the seed that takes most of its mass), and the soft
merging weights ``G[:, j]`` of a few seeds, one colour each, with the seeds
marked. For windowed hosts (LTM-Swin) the seeds are taken from windows
spread over the image.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..backbones.ltm import LTMBlockRecord

_SEED_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200],
                          [245, 130, 48], [145, 30, 180], [70, 240, 240]],
                         dtype=np.float64) / 255


def token_grid(record: LTMBlockRecord, values: torch.Tensor) -> np.ndarray:
    """Per-token values of image 0 of a block, on its token grid.

    Args:
        record (LTMBlockRecord): What the block did.
        values (Tensor): (B * num_windows, N) values, one per token of each
            sequence (window), in the block's layout.

    Returns:
        ndarray: (H, W) values on the block's input grid.
    """
    H, W = record.hw_shape
    ws = record.window_size
    if not ws:  # one sequence per image, raster order
        return values[0].reshape(H, W).cpu().numpy()
    Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
    windows = values[:(Hp // ws) * (Wp // ws)].cpu().numpy()
    # (nH * nW, ws * ws) -> (nH, ws, nW, ws) -> (Hp, Wp)
    grid = windows.reshape(Hp // ws, Wp // ws, ws, ws).transpose(0, 2, 1, 3)
    grid = grid.reshape(Hp, Wp)
    if record.shift_size:
        grid = np.roll(grid, (record.shift_size, ) * 2, axis=(0, 1))
    return grid[:H, :W]


def chosen_seeds(record: LTMBlockRecord,
                 count: int = 4) -> List[Tuple[int, int]]:
    """``count`` (sequence, seed) pairs spread over image 0."""
    num_sequences = 1
    if record.window_size:
        H, W = record.hw_shape
        ws = record.window_size
        num_sequences = -(-H // ws) * -(-W // ws)
    num_seeds = record.mask.shape[-1]
    pairs = []
    for k in range(count):
        position = (k + 0.5) / count
        if num_sequences == 1:
            pairs.append((0, int(position * num_seeds)))
        else:
            pairs.append((int(position * num_sequences), num_seeds // 2))
    return list(dict.fromkeys(pairs))


def _upsample(grid: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    import cv2
    return cv2.resize(
        grid.astype(np.float32), (shape[1], shape[0]),
        interpolation=cv2.INTER_NEAREST)


def seed_panels(record: LTMBlockRecord,
                rgb: np.ndarray,
                count: int = 4) -> Tuple[np.ndarray, np.ndarray, list]:
    """The two pictures of one block.

    Returns:
        tuple: (groups, weights, seed_points): (H, W, 3) float images in
        [0, 1] and the (x, y, colour) of each drawn seed in image pixels.
    """
    image = rgb.astype(np.float64) / 255
    mask = record.mask.float()
    num_sequences, num_tokens, num_seeds = mask.shape
    # Groups: each token in the colour of its strongest seed.
    owner = mask.argmax(dim=-1) + num_seeds * torch.arange(
        num_sequences, device=mask.device)[:, None]
    owner_grid = _upsample(token_grid(record, owner.float()), rgb.shape[:2])
    palette = np.random.default_rng(0).uniform(0.2, 1.0,
                                               (int(owner.max()) + 1, 3))
    groups = 0.45 * image + 0.55 * palette[owner_grid.astype(np.int64)]

    weights = 0.35 * image
    scale = (rgb.shape[0] / record.hw_shape[0],
             rgb.shape[1] / record.hw_shape[1])
    points = []
    for k, (sequence, seed) in enumerate(chosen_seeds(record, count)):
        colour = _SEED_COLOURS[k % len(_SEED_COLOURS)]
        column = torch.zeros(num_sequences, num_tokens)
        column[sequence] = mask[sequence, :, seed].cpu()
        grid = token_grid(record, column)
        weight = _upsample(grid / max(grid.max(), 1e-12), rgb.shape[:2])
        weights = weights + weight[..., None] * colour * 0.65
        marker = torch.zeros(num_sequences, num_tokens)
        marker[sequence, record.seeds[seed]] = 1
        ys, xs = np.nonzero(token_grid(record, marker))
        if len(ys):  # a seed on padding is not drawn
            points.append(
                ((xs[0] + 0.5) * scale[1], (ys[0] + 0.5) * scale[0], colour))
    return groups, np.clip(weights, 0, 1), points


def draw(backbone: nn.Module,
         inputs: torch.Tensor,
         rgb: np.ndarray,
         out: str,
         blocks: Optional[Sequence[int]] = None) -> List[int]:
    """Draw the merging of ``blocks`` of an LTM backbone on one image.

    Args:
        backbone (nn.Module): ``LTMViT`` or ``LTMSwin`` in eval mode.
        inputs (Tensor): (1, 3, H, W) normalised image.
        rgb (ndarray): (H, W, 3) uint8 image the inputs were made from.
        out (str): PNG file to write.
        blocks (Sequence[int], optional): Block indices in depth order
            (negative counts from the last). Defaults to the first block
            and the middle one.

    Returns:
        list[int]: The blocks drawn.
    """
    if not hasattr(backbone, 'record_masks'):
        raise TypeError(f'ltm drawing needs an LTM backbone (LTMViT, '
                        f'LTMSwin); got {type(backbone).__name__}')
    was_recording = backbone.record_masks
    backbone.record_masks = True
    try:
        with torch.no_grad():
            backbone(inputs[:1])
    finally:
        backbone.record_masks = was_recording
    records = backbone.last_stats.records
    if blocks is None:
        blocks = sorted({0, len(records) // 2})
    chosen = []
    for block in blocks:
        if not -len(records) <= block < len(records):
            raise ValueError(f'block {block} does not exist: the backbone '
                             f'has {len(records)} blocks (0-'
                             f'{len(records) - 1})')
        chosen.append(block % len(records))

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(chosen), 2, figsize=(8, 4 * len(chosen)), squeeze=False)
    for row, block in zip(axes, chosen):
        record = records[block]
        groups, weights, points = seed_panels(record, rgb)
        kept = record.mask.shape[-1]
        per = f'window of {record.window_size ** 2}' \
            if record.window_size else 'image'
        row[0].imshow(groups)
        row[0].set_title(f'block {block}: merge groups '
                         f'({kept} seeds per {per})')
        row[1].imshow(weights)
        for x, y, colour in points:
            row[1].scatter([x], [y], s=40, color=colour, edgecolors='white')
        row[1].set_title(f'block {block}: weights of {len(points)} seeds')
        for axis in row:
            axis.axis('off')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return chosen
