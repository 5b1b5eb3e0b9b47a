# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Where LIT's Deformable Token Merging samples, drawn over the image.

Each DTM merges a 2x2 patch of its input map into one token, sampling the
four kernel points at learned offsets. :func:`sampling_points` returns those
points in image pixels; :func:`draw` plots them for each merging stage, for
a regular subset of output tokens: the regular 2x2 grid position of each
kernel point as a hollow circle, the sampled position as a dot, joined by a
line.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

# Kernel points in row-major order: top-left, top-right, bottom-left,
# bottom-right.
_KERNEL_POINTS = ((0, 0), (0, 1), (1, 0), (1, 1))
_COLOURS = ('tab:red', 'tab:orange', 'tab:cyan', 'tab:green')


def _dtm_stages(backbone) -> List[int]:
    stages = getattr(backbone, 'stages', None)
    found = [
        i for i, stage in enumerate(stages or []) if getattr(
            getattr(stage, 'downsample', None), 'dconv', None) is not None
    ]
    if not found:
        raise ValueError(
            f'{type(backbone).__name__} has no deformable token merging '
            f'stage to draw; pass the backbone of a LIT config built with '
            f'out_indices reaching stage 1 or later')
    return found


@torch.no_grad()
def sampling_points(backbone: torch.nn.Module,
                    inputs: torch.Tensor) -> Dict[int, Dict[str, np.ndarray]]:
    """Run ``backbone`` on ``inputs`` (batch of 1) and return, for each stage
    ``i`` starting with a DTM, the points it sampled, in input pixels.

    Returns:
        dict: ``{i: dict(regular=..., sampled=...)}``; both are arrays of
        shape (Ho, Wo, 4, 2) holding (y, x) pixel coordinates of the 4
        kernel points of each output token, at zero offsets and as sampled.
        A point at map position p of a stride-r map is the centre of its
        cell, ``(p + 0.5) * r - 0.5``.
    """
    if inputs.shape[0] != 1:
        raise ValueError(f'draw one image at a time, got a batch of '
                         f'{inputs.shape[0]}')
    stages = _dtm_stages(backbone)
    offsets = {}
    hooks = [
        backbone.stages[i].downsample.dconv.conv_offset.register_forward_hook(
            lambda module, args, out, i=i: offsets.__setitem__(i, out[0]))
        for i in stages
    ]
    try:
        backbone(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    points = {}
    for i in stages:
        offset = offsets[i].float().cpu()  # (8, Ho, Wo): (dy, dx) per point
        out_h, out_w = offset.shape[1:]
        stride = backbone.stage_strides[i - 1]  # of the DTM's input map
        kernel = torch.tensor(_KERNEL_POINTS, dtype=torch.float32)
        rows = torch.arange(out_h, dtype=torch.float32) * 2
        cols = torch.arange(out_w, dtype=torch.float32) * 2
        grid = torch.stack(torch.meshgrid(rows, cols, indexing='ij'), -1)
        regular = grid[:, :, None] + kernel  # (Ho, Wo, 4, 2)
        delta = offset.reshape(4, 2, out_h, out_w).permute(2, 3, 0, 1)
        points[i] = dict(
            regular=((regular + 0.5) * stride - 0.5).numpy(),
            sampled=((regular + delta + 0.5) * stride - 0.5).numpy())
    return points


def draw(backbone: torch.nn.Module,
         inputs: torch.Tensor,
         rgb: np.ndarray,
         out: str,
         blocks: Optional[Sequence[int]] = None,
         tokens_per_side: int = 8) -> Dict[int, Dict[str, np.ndarray]]:
    """Draw the DTM sampling points of each merging stage over ``rgb``.

    Args:
        backbone (nn.Module): A :class:`~sparse_backbones.backbones.LIT`, in
            eval mode.
        inputs (Tensor): (1, 3, H, W) normalised image.
        rgb (np.ndarray): (H, W, 3) uint8 image drawn underneath.
        out (str): PNG file to write.
        blocks (Sequence[int], optional): Indices ``i`` of the
            ``backbone.stages[i]`` to draw, among those starting with a DTM
            (1, 2, 3); default all.
        tokens_per_side (int): At most this many output tokens per side are
            drawn per stage, evenly spread. Defaults to 8.

    Returns:
        dict: The points of :func:`sampling_points` for the drawn stages.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    points = sampling_points(backbone, inputs)
    if blocks:
        unknown = sorted(set(blocks) - set(points))
        if unknown:
            raise ValueError(f'stages {unknown} have no deformable token '
                             f'merging; choose from {sorted(points)}')
        points = {i: points[i] for i in blocks}
    fig, axes = plt.subplots(
        1, len(points), figsize=(5 * len(points), 5.6), squeeze=False)
    for ax, (i, stage_points) in zip(axes[0], points.items()):
        ax.imshow(rgb)
        out_h, out_w = stage_points['regular'].shape[:2]
        rows = np.unique(np.linspace(0, out_h - 1, tokens_per_side).round())
        cols = np.unique(np.linspace(0, out_w - 1, tokens_per_side).round())
        for r in rows.astype(int):
            for c in cols.astype(int):
                for k, colour in enumerate(_COLOURS):
                    (y0, x0) = stage_points['regular'][r, c, k]
                    (y1, x1) = stage_points['sampled'][r, c, k]
                    ax.plot([x0, x1], [y0, y1], color=colour, linewidth=0.8)
                    ax.scatter([x0], [y0],
                               s=12,
                               facecolors='none',
                               edgecolors=colour,
                               linewidths=0.8)
                    ax.scatter([x1], [y1], s=10, color=colour)
        shift = np.linalg.norm(
            stage_points['sampled'] - stage_points['regular'], axis=-1)
        stride = backbone.stage_strides[i - 1]
        ax.set_title(f'DTM of stages[{i}] (stride {stride} -> '
                     f'{2 * stride})\nmean shift {shift.mean():.2f} px')
        ax.set_xlim(-0.5, rgb.shape[1] - 0.5)
        ax.set_ylim(rgb.shape[0] - 0.5, -0.5)
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(out, dpi=100, bbox_inches='tight')
    plt.close(fig)
    return points
