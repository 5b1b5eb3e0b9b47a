# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/visualize.py ltm: merging weights of seeds over the image."""
import os.path as osp

import numpy as np
import pytest
import torch

from sparse_backbones.backbones import LTMSwin, LTMViT
from sparse_backbones.visualization import get_drawer
from sparse_backbones.visualization.ltm import seed_panels, token_grid

from tests import REPO_ROOT

pytestmark = pytest.mark.timeout(300)
SWIN_TINY = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])
VIT_TINY = dict(
    embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)


def records_of(model, size):
    model.record_masks = True
    with torch.no_grad():
        model(torch.rand(1, 3, *size))
    return model.last_stats.records


def test_token_grid_inverts_the_window_layout():
    """Token positions written in the block's (shifted, padded) window
    layout come back to their grid positions."""
    model = LTMSwin(arch=SWIN_TINY, out_indices=(0, )).eval()
    records = records_of(model, (40, 52))  # 10 x 13 grid, padded to 14
    block = model.stages[0].blocks[1]  # shifted
    record = records[1]
    assert record.shift_size == 3
    positions = torch.arange(130, dtype=torch.float32).view(1, 130, 1)
    windows, _ = block.attn.partition(positions, (10, 13))
    grid = token_grid(record, windows[..., 0])
    assert np.array_equal(grid, np.arange(130).reshape(10, 13))


def test_panels_mark_seeds_where_they_are():
    model = LTMViT(arch=VIT_TINY, img_size=64).eval()
    record = records_of(model, (64, 96))[0]  # 4 x 6 tokens
    rgb = np.zeros((64, 96, 3), np.uint8)
    groups, weights, points = seed_panels(record, rgb, count=3)
    assert groups.shape == weights.shape == (64, 96, 3)
    assert 0 <= weights.min() and weights.max() <= 1
    assert len(points) == 3
    seeds = record.seeds.tolist()
    for x, y, _ in points:
        token = int(y // 16) * 6 + int(x // 16)
        assert token in seeds


@pytest.mark.parametrize('config,size', [
    ('configs/cls/ltm-swin-tiny_8xb64_aid.py', (96, 112)),
    ('configs/cls/ltm-vit-small_8xb64_aid.py', (64, 64)),
])
def test_visualize_tool_writes_a_png(tmp_path, config, size):
    pytest.importorskip('mmpretrain')
    import cv2

    from tools.visualize import main
    image = tmp_path / 'scene.png'
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), rng.integers(0, 255, (*size, 3), np.uint8))
    out = tmp_path / 'merge.png'
    main([
        'ltm',
        osp.join(REPO_ROOT, config), 'none',
        str(image), '--out',
        str(out), '--blocks', '0', '-1'
    ])
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[0] > 300


def test_draw_rejects_other_backbones_and_blocks(tmp_path):
    draw = get_drawer('ltm')
    with pytest.raises(TypeError, match='LTM backbone'):
        draw(
            torch.nn.Linear(2, 2), torch.rand(1, 3, 8, 8),
            np.zeros((8, 8, 3), np.uint8), str(tmp_path / 'x.png'))
    model = LTMSwin(arch=SWIN_TINY).eval()
    with pytest.raises(ValueError, match='has 8 blocks'):
        draw(
            model,
            torch.rand(1, 3, 32, 32),
            np.zeros((32, 32, 3), np.uint8),
            str(tmp_path / 'x.png'),
            blocks=[8])
    assert model.record_masks is False  # restored
