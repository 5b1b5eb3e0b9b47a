# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/infer_large.py: tiling, shifting back, merging and the outputs."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData, PixelData

from sparse_backbones.datasets import DOTA_V1_CLASSES

from tests import REPO, load_tool

CONFIGS = dict(
    det=REPO / 'configs/det/lemevit_maskrcnn.py',
    seg=REPO / 'configs/seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py')


tool = load_tool('infer_large.py')


def test_tile_origins_cover_the_image():
    origins = tool.tile_origins(700, 900, 256, 56)
    assert len(origins) == 5 * 4 and len(set(origins)) == 20
    covered = np.zeros((700, 900), int)
    for x, y in origins:
        covered[y:y + 256, x:x + 256] += 1
    assert covered.min() >= 1  # every pixel is seen
    # Every window lies inside the image (the last ones end at the border).
    assert max(x for x, _ in origins) == 900 - 256
    assert max(y for _, y in origins) == 700 - 256


# ------------------------------------------------------------ with stubs --
class Sample:
    """What model.test_step returns per image, reduced to what is read."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class BrightObjectDetector:
    """Detects the bright blobs that do not touch the tile border, like a
    detector that only fires on whole objects; label = blob index % 15."""

    def test_step(self, batch):
        tile = batch['inputs'][0]
        mask = tile[..., 0] > 128
        count, components = cv2.connectedComponents(mask.astype(np.uint8))
        h, w = mask.shape
        boxes, masks = [], []
        for index in range(1, count):
            blob = components == index
            ys, xs = np.nonzero(blob)
            if xs.min() == 0 or ys.min() == 0 or xs.max() == w - 1 or \
                    ys.max() == h - 1:
                continue
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            masks.append(blob)
        pred = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=torch.full((len(boxes), ), 0.9),
            labels=torch.zeros(len(boxes), dtype=torch.int64),
            masks=torch.from_numpy(np.array(masks, bool).reshape(-1, h, w)))
        return [Sample(pred_instances=pred)]


def identity_pipeline(results):
    return dict(inputs=results['img'], data_samples=None)


def test_detect_large_shifts_back_and_merges_duplicates():
    image = np.zeros((300, 400, 3), np.uint8)
    # A rotated object in the overlap of the windows at x=0 and x=156, and
    # an upright one seen by one window only.
    rotated = cv2.boxPoints(((200., 60.), (50., 20.), 30.))
    cv2.fillPoly(image, [np.rint(rotated).astype(np.int32)], (255, ) * 3)
    image[200:240, 300:330] = 255
    windows = tool.tile_origins(300, 400, 256, 100)
    result = tool.detect_large(BrightObjectDetector(), identity_pipeline,
                               image, windows, 256, 0.5, 0.3, False)
    # Each object once, in full-image pixels.
    assert len(result['boxes']) == 2
    order = np.argsort(result['boxes'][:, 0])
    rotated_box, upright_box = result['boxes'][order]
    xs, ys = rotated[:, 0], rotated[:, 1]
    np.testing.assert_allclose(
        rotated_box,
        [xs.min(), ys.min(), xs.max(), ys.max()], atol=1.5)
    np.testing.assert_array_equal(upright_box, [300, 200, 330, 240])
    polygon = result['polygons'][order][1].reshape(4, 2)
    np.testing.assert_allclose(
        np.sort(polygon, axis=0),
        [[300, 200], [300, 200], [330, 240], [330, 240]],
        atol=1e-3)


class ThresholdSegmentor:
    """Two classes: pixel brighter than 128 or not (logits +-5)."""

    def test_step(self, batch):
        tile = torch.as_tensor(batch['inputs'][0][..., 0], dtype=torch.float32)
        bright = (tile > 128).float() * 10 - 5
        logits = torch.stack([-bright, bright])
        return [Sample(seg_logits=PixelData(data=logits))]


def test_segment_large_stitches_every_pixel():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    windows = tool.tile_origins(300, 400, 128, 32)
    labels = tool.segment_large(ThresholdSegmentor(), identity_pipeline, image,
                                windows, 128, 2, False)
    np.testing.assert_array_equal(labels, image[..., 0] > 128)
    painted, features = tool.segmentation_outputs(image, labels,
                                                  ('dark', 'bright'),
                                                  [(0, 0, 0), (255, 255, 255)])
    assert painted.shape == image.shape
    assert {f['properties']['class'] for f in features} == {'dark', 'bright'}


# ------------------------------------------------------- real models --
def random_checkpoint(config: Path, folder: Path, task: str) -> Path:
    """Save a randomly initialised model of ``config``."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(str(config))
    init_default_scope('mmdet' if task == 'det' else 'mmseg')
    model = MODELS.build(cfg.model)
    path = folder / f'{task}_random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture()
def large_image(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / 'scene.png'
    cv2.imwrite(str(path), rng.integers(0, 256, (700, 900),
                                        dtype=np.uint8))  # gray
    return path


@pytest.fixture
def allocator_calls(monkeypatch):
    """Records the tool's process-wide malloc setting instead of applying
    it to the test process."""
    calls = []
    monkeypatch.setattr(tool, 'keep_freed_memory', lambda: calls.append(1))
    return calls


def test_infer_large_detector_writes_image_and_geojson(tmp_path, large_image,
                                                       allocator_calls,
                                                       count_calls):
    deploy_calls = count_calls(tool, 'deploy')
    ckpt = random_checkpoint(CONFIGS['det'], tmp_path, 'det')
    out_dir = tmp_path / 'out'
    # 900x700 in 512 windows with 64 overlap: x 0 388, y 0 188; each window
    # resized to 128 pixels and few proposals keep the CPU run short.
    collection = tool.main([
        str(CONFIGS['det']),
        str(ckpt),
        str(large_image), '--tile', '512', '--overlap', '64', '--score-thr',
        '0', '--out-dir',
        str(out_dir), '--no-progress', '--cfg-options',
        'test_dataloader.dataset.pipeline.1.scale=(128,128)',
        'model.test_cfg.rpn.nms_pre=100', 'model.test_cfg.rpn.max_per_img=20',
        'model.test_cfg.rcnn.score_thr=0.0',
        'model.test_cfg.rcnn.max_per_img=5'
    ])
    assert collection['properties']['tiles'] == 4
    assert allocator_calls == [1]  # CPU inference keeps freed memory
    assert deploy_calls == [1]  # switched to deploy by default
    written = json.loads((out_dir / 'scene_pred.json').read_text())
    assert written == json.loads(json.dumps(collection))
    assert written['type'] == 'FeatureCollection'
    features = written['features']
    assert 0 < len(features) <= 4 * 5  # at most 5 per window, merged
    for feature in features:
        ring = feature['geometry']['coordinates'][0]
        assert len(ring) == 5 and ring[0] == ring[-1]
        assert feature['properties']['class'] in DOTA_V1_CLASSES
        x1, y1, x2, y2 = feature['properties']['bbox']
        assert 0 <= x1 < x2 <= 900 and 0 <= y1 < y2 <= 700
    painted = cv2.imread(str(out_dir / 'scene_pred.png'))
    assert painted.shape == (700, 900, 3)


@pytest.mark.slow  # ~40 s on 2 CPU cores; the stitching is tested above
def test_infer_large_segmentor_writes_label_map(tmp_path, large_image,
                                                allocator_calls):
    ckpt = random_checkpoint(CONFIGS['seg'], tmp_path, 'seg')
    out_dir = tmp_path / 'out'
    collection = tool.main([
        str(CONFIGS['seg']),
        str(ckpt),
        str(large_image), '--tile', '512', '--overlap', '64', '--out-dir',
        str(out_dir), '--no-progress', '--cfg-options',
        'model.test_cfg.crop_size=(128,128)',
        'model.test_cfg.stride=(128,128)',
        'test_dataloader.dataset.pipeline.1.scale=(128,128)'
    ])
    labels = cv2.imread(
        str(out_dir / 'scene_labels.png'), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (700, 900) and labels.max() < 6
    painted = cv2.imread(str(out_dir / 'scene_pred.png'))
    assert painted.shape == (700, 900, 3)
    areas = sum(f['properties']['area'] for f in collection['features'])
    assert 0 < areas <= 700 * 900


def test_infer_large_bad_input(tmp_path, large_image):
    ckpt = tmp_path / 'x.pth'
    ckpt.write_bytes(b'')
    with pytest.raises(ValueError, match='cls config'):
        tool.main([
            str(REPO / 'configs/cls/lemevit-tiny_8xb64_aid.py'),
            str(ckpt),
            str(large_image)
        ])
    with pytest.raises(FileNotFoundError, match='missing.png'):
        tool.main(
            [str(CONFIGS['det']),
             str(ckpt),
             str(tmp_path / 'missing.png')])
    with pytest.raises(SystemExit):
        tool.parse_args(['c', 'k', 'i', '--tile', '256', '--overlap', '256'])
