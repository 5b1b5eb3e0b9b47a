# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The granularity each DGE block chose for every region of an image (the
picture of the paper's Figure 4; vtpack issue #4 asked for it).

One panel per block, laid out four to a row, each the size of the image:
every 4x4-token region is tinted by its choice (red: split 4, 16 queries;
yellow: split 2, 4 queries; blue: split 1, 1 query) and the patches its
queries average are outlined, so fine detail shows as a dense grid. The
panel's caption gives the block and its share of each choice.
"""
import math
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn as nn

from ..layers.dge import REGION_SIZE, SPLIT_SIZES

# RGB tint per option (split 4, 2, 1).
COLOURS = ((230, 60, 50), (240, 200, 40), (60, 110, 230))
COLUMNS = 4
_ALPHA = 0.35


def _stride(image_size: int, grid_size: int) -> int:
    """Pixels per token: the power of two nearest to image / grid."""
    return 2**round(math.log2(image_size / grid_size))


def _panel(rgb: np.ndarray, choice: np.ndarray, stride: int,
           caption: str) -> np.ndarray:
    H, W = rgb.shape[:2]
    tint = np.zeros_like(rgb)
    region_px = REGION_SIZE * stride
    lines = []
    for (ry, rx), option in np.ndenumerate(choice):
        y0, x0 = ry * region_px, rx * region_px
        if y0 >= H or x0 >= W:
            continue  # a region of padding only
        y1, x1 = min(y0 + region_px, H), min(x0 + region_px, W)
        tint[y0:y1, x0:x1] = COLOURS[option]
        patch_px = region_px // SPLIT_SIZES[option]
        for y in range(y0, y1, patch_px):
            for x in range(x0, x1, patch_px):
                lines.append(
                    (x, y, min(x + patch_px, W) - 1, min(y + patch_px, H) - 1))
    panel = cv2.addWeighted(rgb, 1 - _ALPHA, tint, _ALPHA, 0)
    for x0, y0, x1, y1 in lines:
        cv2.rectangle(panel, (x0, y0), (x1, y1), (255, 255, 255), 1)
    scale = max(0.35, min(H, W) / 600)
    (tw, th), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                     1)
    cv2.rectangle(panel, (0, 0), (min(tw + 6, W - 1), th + base + 6),
                  (0, 0, 0), -1)
    cv2.putText(panel, caption, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return panel


@torch.no_grad()
def draw(backbone: nn.Module,
         inputs: torch.Tensor,
         rgb: np.ndarray,
         out: str,
         blocks: Optional[Sequence[int]] = None) -> np.ndarray:
    """Draw the choices of ``blocks`` on the first image of ``inputs``.

    Args:
        backbone (nn.Module): A DGE backbone (``last_stats.gates``).
        inputs (Tensor): (B, 3, H, W) normalised images.
        rgb (np.ndarray): (H, W, 3) uint8 RGB image of ``inputs[0]``.
        out (str): PNG file to write.
        blocks (Sequence[int], optional): Block indices in depth order;
            default all.

    Returns:
        np.ndarray: The written RGB mosaic, ``ceil(n / 4)`` rows of
        ``min(n, 4)`` image-sized panels for n blocks.
    """
    # Every backbone has last_stats; only DGE's hold gates.
    if not hasattr(backbone, 'dge_blocks'):
        raise TypeError(f'{type(backbone).__name__} is not a DGE backbone '
                        '(no DGE blocks); use a DGE config')
    if tuple(rgb.shape[:2]) != tuple(inputs.shape[2:]):
        raise ValueError(f'the image ({rgb.shape[:2]}) and the inputs '
                         f'({tuple(inputs.shape[2:])}) differ in size')
    backbone.eval()
    backbone(inputs)
    stats = backbone.last_stats
    num_blocks = len(stats.gates)
    blocks = list(range(num_blocks)) if blocks is None else list(blocks)
    bad = [b for b in blocks if not 0 <= b < num_blocks]
    if bad:
        raise ValueError(f'blocks {bad} do not exist: the model has '
                         f'{num_blocks} DGE blocks (0..{num_blocks - 1})')
    rgb = np.ascontiguousarray(rgb)
    panels = []
    for index in blocks:
        choice = stats.gates[index][0].cpu().numpy()
        grid_h = stats.grid_shapes[index][0]
        shares = [float((choice == o).mean()) for o in range(3)]
        caption = f'block {index}: ' + ' '.join(
            f'{s}x{s} {share:.0%}' for s, share in zip(SPLIT_SIZES, shares))
        panels.append(
            _panel(rgb, choice, _stride(rgb.shape[0], grid_h), caption))
    columns = min(COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    blank = np.full_like(rgb, 255)
    panels += [blank] * (rows * columns - len(panels))
    mosaic = np.concatenate([
        np.concatenate(panels[r * columns:(r + 1) * columns], axis=1)
        for r in range(rows)
    ],
                            axis=0)
    if not cv2.imwrite(out, cv2.cvtColor(mosaic, cv2.COLOR_RGB2BGR)):
        raise OSError(f'cannot write {out}')
    return mosaic
