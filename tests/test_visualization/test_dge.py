# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/visualize.py dge draws the granularity of every region per block."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from sparse_backbones.backbones import DGEPVT
from sparse_backbones.visualization.dge import COLOURS, draw

from tests import REPO_ROOT, load_tool

pytestmark = pytest.mark.timeout(300)


def run_tool(argv):
    return load_tool('visualize.py').main(argv)


@pytest.fixture
def image_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / 'scene.png'
    cv2.imwrite(str(path), rng.integers(0, 255, (100, 140, 3), np.uint8))
    return str(path)


@pytest.mark.parametrize('blocks,shape', [(['0', '5'], (100, 280)),
                                          ([], (300, 560))])
def test_tool_writes_one_panel_per_block(image_file, tmp_path, blocks, shape):
    out = str(tmp_path / 'dge.png')
    config = osp.join(REPO_ROOT, 'configs', 'cls',
                      'dge-deit-tiny_8xb64_aid-256px.py')
    argv = ['dge', config, 'none', image_file, '--out', out]
    if blocks:
        argv += ['--blocks'] + blocks
    assert run_tool(argv) == out
    picture = cv2.imread(out)
    # 12 blocks: three rows of four image-sized panels.
    assert picture.shape == shape + (3, )


def test_panels_show_the_choices(tmp_path):
    model = DGEPVT(
        dict(
            embed_dims=[16, 32, 48, 64],
            depths=[1, 1, 1, 1],
            num_heads=[1, 2, 2, 4]),
        router_bias=(-9., -9., 9.))  # every region at 1 query
    rgb = np.full((64, 96, 3), 128, np.uint8)
    inputs = torch.zeros(1, 3, 64, 96)
    mosaic = draw(model, inputs, rgb, str(tmp_path / 'p.png'), blocks=[0])
    assert mosaic.shape == (64, 96, 3)
    # Away from the caption and outlines the tint of split 1 (blue) shows.
    pixel = mosaic[40, 40].astype(int)
    expected = 0.65 * 128 + 0.35 * np.array(COLOURS[2])
    assert np.abs(pixel - expected).max() <= 2
    with pytest.raises(ValueError, match='blocks \\[7\\] do not exist'):
        draw(model, inputs, rgb, str(tmp_path / 'q.png'), blocks=[7])
