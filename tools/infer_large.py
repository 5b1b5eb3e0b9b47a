# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Run a detector or a segmentor over an image of any size, tile by tile.

    python tools/infer_large.py configs/det/lemevit_maskrcnn.py CKPT \\
        data/DOTA/test/images/P0006.png --out-dir work_dirs/large
    python tools/infer_large.py \\
        configs/seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py CKPT \\
        top_potsdam_2_13_RGB.tif --tile 2048 --overlap 256

The image (any size; RGB, grayscale, RGBA or 16-bit) is read with
:func:`sparse_backbones.datasets.image_io.read_image`, the pixels the
dataset classes and converters give the model (16-bit: ``value / 257``, or
``--bit-depth``; never stretched per image), and cut into
``--tile`` windows overlapping by ``--overlap`` pixels, the last one of each
row and column aligned with the border (as the DOTA splitter does), and
each window goes through the config's test pipeline and model:

- detection: the detections of all windows are shifted back, filtered by
  ``--score-thr`` and merged with class-wise NMS (``--merge-iou-thr``, the
  merge of :class:`~sparse_backbones.evaluation.DOTAMetric`); each mask
  becomes its minimum-area rotated rectangle;
- segmentation: the class probabilities of overlapping windows are
  averaged, then the most likely class is taken per pixel (memory:
  4 bytes x classes x pixels).

Written to ``--out-dir`` (``<image stem>`` first):

- ``_pred.png``: the image painted with the detections, or the colour label
  map blended with the image;
- ``_labels.png`` (segmentation): the class index of every pixel;
- ``_pred.json``: a GeoJSON FeatureCollection in pixel coordinates (x to
  the right, y down; no geo-reference), one Polygon feature per detection
  (``class``, ``label``, ``score``, ``bbox``) or per connected region of a
  class (``class``, ``label``, ``area``), plus ``properties`` of the run.
"""
import argparse
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from tqdm import tqdm

from sparse_backbones.backbones import deploy
from sparse_backbones.datasets.dota_labels import window_starts
from sparse_backbones.datasets.image_io import (add_bit_depth_argument,
                                                read_image)
from sparse_backbones.demo import demo_task
from sparse_backbones.evaluation.dota_metric import (mask_to_polygon,
                                                     merge_detections)
from sparse_backbones.utils.allocator import keep_freed_memory
from sparse_backbones.utils.checkpoint import check_checkpoint_fits
from sparse_backbones.utils.safe_load import enable_safe_checkpoint_loading

# Merged detections: boxes, polygons, scores, labels (one row each).
Detections = Dict[str, np.ndarray]
# One RGB colour per class.
Palette = Sequence[Sequence[int]]
# Pipeline steps that need annotations, which a raw image does not have.
_ANNOTATION_STEPS = ('LoadAnnotations', )


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Tiled inference over a large image (see the module '
        'doc)',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='detection or segmentation config')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('image', help='image of any size')
    parser.add_argument(
        '--out-dir', default='work_dirs/infer_large', help='output folder')
    parser.add_argument(
        '--tile', type=int, default=1024, help='window side in pixels')
    parser.add_argument(
        '--overlap',
        type=int,
        default=200,
        help='overlap of neighbouring windows in pixels')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='detection: keep detections scoring at least this')
    parser.add_argument(
        '--merge-iou-thr',
        type=float,
        default=0.3,
        help='detection: IoU of the class-wise NMS across windows')
    add_bit_depth_argument(parser)
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    parser.add_argument(
        '--no-deploy',
        action='store_true',
        help="run the reference layers instead of switch_to_deploy()'s "
        'fused inference layers')
    args = parser.parse_args(argv)
    if args.tile <= 0 or not 0 <= args.overlap < args.tile:
        parser.error('need --tile > 0 and 0 <= --overlap < --tile')
    return args


# ------------------------------------------------------------------ model --
def build_model(cfg: Config, checkpoint: str, device: str, task: str):
    """Build the detector (mmdet) or segmentor (mmseg) with its weights."""
    if task == 'det':
        from mmdet.apis import init_detector
        return init_detector(cfg, checkpoint, device=device)
    from mmseg.apis import init_model
    return init_model(cfg, checkpoint, device=device)


def build_pipeline(cfg: Config, task: str) -> Compose:
    """The config's test pipeline reading an array instead of a file."""
    steps = [
        dict(step) for step in cfg.test_dataloader.dataset.pipeline
        if str(step['type']).split('.')[-1] not in _ANNOTATION_STEPS
    ]
    if not str(steps[0]['type']).endswith(
        ('LoadImageFromFile', 'LoadRSImageFromFile')):
        raise ValueError('the test pipeline of the config must start with '
                         f'LoadImageFromFile, got {steps[0]["type"]!r}')
    # The image is read once, by read_image (as the datasets read files).
    host = 'mmdet' if task == 'det' else 'mmseg'
    steps[0] = dict(type=f'{host}.LoadImageFromNDArray')
    init_default_scope(host)
    return Compose(steps)


@torch.no_grad()
def predict_tile(model, pipeline: Compose, tile: np.ndarray):
    """Run one BGR window through the pipeline and the model."""
    data = pipeline(dict(img=tile, img_id=0))
    batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    return model.test_step(batch)[0]


def config_dataset_meta(cfg: Config, task: str) -> dict:
    """Classes and palette of the config's test dataset.

    Taken from the config, not from the model: mmdet and mmseg give a
    checkpoint without ``dataset_meta`` the COCO or Cityscapes classes.
    """
    from mmengine.registry import DATASETS
    init_default_scope('mmdet' if task == 'det' else 'mmseg')
    dataset_cfg = cfg.test_dataloader.dataset
    while 'dataset' in dataset_cfg:  # dataset wrappers
        dataset_cfg = dataset_cfg['dataset']
    dataset_cls = DATASETS.get(dataset_cfg['type'])
    meta = dict(getattr(dataset_cls, 'METAINFO', {}))
    meta.update(dataset_cfg.get('metainfo') or {})
    if not meta.get('classes'):
        raise ValueError(f'the test dataset {dataset_cfg["type"]!r} of the '
                         'config names no classes; set '
                         'test_dataloader.dataset.metainfo.classes.')
    return meta


# -------------------------------------------------------------- detection --
def detect_large(model, pipeline: Compose, image: np.ndarray,
                 windows: Sequence[Tuple[int,
                                         int]], tile: int, score_thr: float,
                 merge_iou_thr: float, progress: bool) -> Detections:
    """Detections of all windows, shifted back and merged.

    Returns:
        dict: ``boxes`` (N, 4), ``polygons`` (N, 8) (the boxes' corners
        for a model without masks), ``scores`` and ``labels`` (N, ), in
        image pixels, highest score first.
    """
    parts: Dict[str, list] = dict(boxes=[], polygons=[], scores=[], labels=[])
    for x, y in tqdm(windows, desc='tiles', disable=not progress):
        pred = predict_tile(model, pipeline, image[y:y + tile,
                                                   x:x + tile]).pred_instances
        keep = (pred.scores >= score_thr).cpu().numpy()
        boxes = pred.bboxes.cpu().numpy()[keep]
        masks = pred.masks.cpu().numpy()[keep] if 'masks' in pred else None
        polygons = np.array([
            mask_to_polygon(masks[i], box) if masks is not None else np.array([
                box[0], box[1], box[2], box[1], box[2], box[3], box[0], box[3]
            ]) for i, box in enumerate(boxes)
        ], np.float32).reshape(-1, 8)
        parts['boxes'].append(boxes + np.array([x, y, x, y], np.float32))
        parts['polygons'].append(polygons + np.tile([x, y], 4))
        parts['scores'].append(pred.scores.cpu().numpy()[keep])
        parts['labels'].append(pred.labels.cpu().numpy()[keep])
    merged = {key: np.concatenate(value) for key, value in parts.items()}
    keep = merge_detections(merged['boxes'], merged['scores'],
                            merged['labels'], merge_iou_thr)
    return {key: value[keep] for key, value in merged.items()}


def detection_outputs(image: np.ndarray, result: Detections,
                      classes: Sequence[str],
                      palette: Palette) -> Tuple[np.ndarray, List[dict]]:
    """Painted image (BGR) and GeoJSON features of the detections."""
    painted = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 1500))
    features = []
    for box, polygon, score, label in zip(result['boxes'], result['polygons'],
                                          result['scores'], result['labels']):
        colour = tuple(int(c) for c in palette[label % len(palette)][::-1])
        points = np.rint(polygon.reshape(4, 2)).astype(np.int32)
        cv2.polylines(painted, [points], True, colour, thickness)
        ring = polygon.reshape(4, 2).tolist()
        features.append(
            dict(
                type='Feature',
                geometry=dict(type='Polygon', coordinates=[ring + ring[:1]]),
                properties={
                    'class': classes[label],
                    'label': int(label),
                    'score': round(float(score), 5),
                    'bbox': [round(float(v), 2) for v in box]
                }))
    return painted, features


# ----------------------------------------------------------- segmentation --
def segment_large(model, pipeline: Compose, image: np.ndarray,
                  windows: Sequence[Tuple[int, int]], tile: int,
                  num_classes: int, progress: bool) -> np.ndarray:
    """Class index map of the whole image (``(H, W)`` uint8).

    Overlapping windows average their class probabilities.
    """
    height, width = image.shape[:2]
    probs = np.zeros((num_classes, height, width), np.float32)
    counts = np.zeros((height, width), np.float32)
    for x, y in tqdm(windows, desc='tiles', disable=not progress):
        crop = image[y:y + tile, x:x + tile]
        logits = predict_tile(model, pipeline, crop).seg_logits.data
        window_probs = torch.softmax(logits.float(), dim=0).cpu().numpy()
        h, w = crop.shape[:2]
        probs[:, y:y + h, x:x + w] += window_probs[:, :h, :w]
        counts[y:y + h, x:x + w] += 1
    return (probs / counts).argmax(0).astype(np.uint8)


def segmentation_outputs(image: np.ndarray, labels: np.ndarray,
                         classes: Sequence[str],
                         palette: Palette) -> Tuple[np.ndarray, List[dict]]:
    """Colour map blended with the image (BGR) and GeoJSON region features.

    Each connected region of a class becomes a Polygon whose first ring is
    its outline and the others its holes (simplified to 1 pixel).
    """
    colours = np.array([c[::-1] for c in palette], np.uint8)
    painted = cv2.addWeighted(image, 0.5, colours[labels], 0.5, 0)
    features = []
    for label, name in enumerate(classes):
        region = (labels == label).astype(np.uint8)
        if not region.any():
            continue
        contours, hierarchy = cv2.findContours(region, cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)
        for index, contour in enumerate(contours):
            if hierarchy[0][index][3] != -1:
                continue  # a hole, added to its outline below
            rings = [contour]
            child = hierarchy[0][index][2]
            while child != -1:
                rings.append(contours[child])
                child = hierarchy[0][child][0]
            coordinates = []
            for ring in rings:
                ring = cv2.approxPolyDP(ring, 1.0, True).reshape(-1, 2)
                points = ring.tolist()
                coordinates.append(points + points[:1])
            area = cv2.contourArea(rings[0]) - sum(
                cv2.contourArea(hole) for hole in rings[1:])
            features.append(
                dict(
                    type='Feature',
                    geometry=dict(type='Polygon', coordinates=coordinates),
                    properties={
                        'class': name,
                        'label': label,
                        'area': float(area)
                    }))
    return painted, features


# -------------------------------------------------------------------- run --
def tile_origins(height: int, width: int, tile: int,
                 overlap: int) -> List[Tuple[int, int]]:
    """``(x, y)`` of every window, row by row."""
    return [(x, y) for y in window_starts(height, tile, overlap)
            for x in window_starts(width, tile, overlap)]


def _write_png(path: str, image: np.ndarray) -> None:
    ok, data = cv2.imencode('.png', image)
    if not ok:
        raise OSError(f'cannot encode {path}')
    with open(path, 'wb') as f:
        f.write(data.tobytes())


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the tiled inference and write the outputs.

    Returns:
        dict: The GeoJSON FeatureCollection that was written, with
        ``properties.outputs`` naming the files.
    """
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    task = demo_task(cfg)
    if task not in ('det', 'seg'):
        raise ValueError(f'{args.config} is a {task} config; infer_large '
                         'runs detection and segmentation configs.')
    image = read_image(args.image, bit_depth=args.bit_depth)
    height, width = image.shape[:2]
    windows = tile_origins(height, width, args.tile, args.overlap)

    if args.device == 'cpu':
        keep_freed_memory()  # CPU inference speed; see its docstring
    enable_safe_checkpoint_loading()  # checkpoints of tools/train.py
    # The file is checked (readable, weights_only, keys that fit) against
    # the bare model before the host's init_* loads it.
    check_checkpoint_fits(
        build_model(cfg, None, 'cpu', task), args.checkpoint)
    model = build_model(cfg, args.checkpoint, args.device, task)
    if not args.no_deploy:
        deploy(model)
    pipeline = build_pipeline(model.cfg, task)
    meta = config_dataset_meta(cfg, task)
    classes = meta.get('classes')
    rng = np.random.default_rng(0)
    palette = meta.get('palette') or [
        tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in classes
    ]
    progress = not args.no_progress
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.join(args.out_dir, osp.splitext(osp.basename(args.image))[0])
    outputs = dict(image=stem + '_pred.png', json=stem + '_pred.json')
    if task == 'det':
        result = detect_large(model, pipeline, image, windows, args.tile,
                              args.score_thr, args.merge_iou_thr, progress)
        painted, features = detection_outputs(image, result, classes, palette)
    else:
        labels = segment_large(model, pipeline, image, windows, args.tile,
                               len(classes), progress)
        painted, features = segmentation_outputs(image, labels, classes,
                                                 palette)
        outputs['labels'] = stem + '_labels.png'
        _write_png(outputs['labels'], labels)
    _write_png(outputs['image'], painted)
    collection = dict(
        type='FeatureCollection',
        properties=dict(
            image=osp.abspath(args.image),
            width=width,
            height=height,
            task=task,
            config=args.config,
            checkpoint=args.checkpoint,
            tile=args.tile,
            overlap=args.overlap,
            tiles=len(windows),
            score_thr=args.score_thr if task == 'det' else None,
            coordinates='pixels (x right, y down)',
            outputs=outputs),
        features=features)
    with open(outputs['json'], 'w') as f:
        json.dump(collection, f)
    print(f'{len(features)} {"detection" if task == "det" else "region"}(s) '
          f'from {len(windows)} tile(s) of {width}x{height}; wrote '
          f'{", ".join(outputs.values())}')
    return collection


if __name__ == '__main__':
    main()
