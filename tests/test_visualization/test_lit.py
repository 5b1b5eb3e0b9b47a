# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/visualize.py lit: the DTM sampling points over the image."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from sparse_backbones.backbones import LIT
from sparse_backbones.visualization import get_drawer
from sparse_backbones.visualization.lit import sampling_points

from tests import load_tool

ARCH = dict(
    embed_dims=[8, 16, 24, 32],
    depths=[1, 1, 1, 1],
    num_heads=[1, 1, 2, 2],
    mlp_ratios=[2, 2, 2, 2],
    position='relative')


def test_zero_offsets_sample_the_regular_2x2_cells():
    model = LIT(ARCH, pretrain_img_size=64).eval()
    points = sampling_points(model, torch.rand(1, 3, 64, 96))
    assert sorted(points) == [1, 2, 3]
    # DTM of stages[1]: stride-4 input, output token (i, j) merges cells
    # (2i + a, 2j + b), centred at (cell + 0.5) * 4 - 0.5
    regular = points[1]['regular']
    assert regular.shape == (8, 12, 4, 2)
    np.testing.assert_allclose(regular[2, 3, 0],
                               [2 * 2 * 4 + 1.5, 2 * 3 * 4 + 1.5])
    np.testing.assert_allclose(regular[2, 3, 3], [(2 * 2 + 1) * 4 + 1.5,
                                                  (2 * 3 + 1) * 4 + 1.5])
    for stage in points.values():
        np.testing.assert_allclose(stage['sampled'], stage['regular'])


def test_offsets_move_the_points_in_input_pixels():
    model = LIT(ARCH, pretrain_img_size=64).eval()
    with torch.no_grad():
        # dy = 0.5, dx = -1 cells for every kernel point of stages[2]'s DTM
        model.stages[2].downsample.dconv.conv_offset.bias.copy_(
            torch.tensor([0.5, -1.] * 4))
    points = sampling_points(model, torch.rand(1, 3, 64, 64))
    shift = points[2]['sampled'] - points[2]['regular']
    np.testing.assert_allclose(shift[..., 0], 0.5 * 8, atol=1e-6)
    np.testing.assert_allclose(shift[..., 1], -1. * 8, atol=1e-6)
    np.testing.assert_allclose(points[1]['sampled'], points[1]['regular'])


def test_draw_writes_one_panel_per_chosen_stage(tmp_path):
    model = LIT(ARCH, pretrain_img_size=64).eval()
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), np.uint8)
    out = str(tmp_path / 'dtm.png')
    draw = get_drawer('lit')
    drawn = draw(model, torch.rand(1, 3, 64, 80), rgb, out, blocks=[1, 3])
    assert sorted(drawn) == [1, 3]
    image = cv2.imread(out)
    assert image is not None and image.shape[1] > image.shape[0]
    with pytest.raises(ValueError, match=r'stages \[0\] have no deformable'):
        draw(model, torch.rand(1, 3, 64, 80), rgb, out, blocks=[0])
    with pytest.raises(ValueError, match='one image at a time'):
        sampling_points(model, torch.rand(2, 3, 64, 64))


def test_backbone_without_dtm_is_explained():
    model = LIT(ARCH, out_indices=0).eval()
    with pytest.raises(ValueError, match='no deformable token merging'):
        sampling_points(model, torch.rand(1, 3, 32, 32))


def test_tool_draws_a_config(tmp_path, repo_root):
    """tools/visualize.py lit CONFIG none IMAGE --out PNG, in process."""
    tool = load_tool('visualize.py')
    image = tmp_path / 'scene.png'
    cv2.imwrite(str(image), np.full((70, 90, 3), 128, np.uint8))
    out = tmp_path / 'dtm.png'
    config = osp.join(repo_root, 'configs', 'seg',
                      'upernet_lit-s_4xb4-80k_potsdam-512x512.py')
    tool.main(['lit', config, 'none', str(image), '--out', str(out)])
    assert cv2.imread(str(out)) is not None
