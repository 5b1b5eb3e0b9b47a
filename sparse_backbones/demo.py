# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Small synthetic datasets in the real on-disk formats, for ``--demo`` runs.

:func:`prepare_demo` turns a shipped config into a few-minute CPU run: it
writes (once) a tiny dataset in exactly the layout the real data has, points
the dataloaders at it, and shrinks image size, schedule, batch size and
workers. The model stays the one of the config, except for the sizes that
follow the image size (segmentation crop/stride, preprocessor size).

The data is deterministic (the same bytes on every run) and learnable:
objects are drawn where the labels say they are.

- AID (classification): ``aid/<Class>/<class>_<i>.jpg`` and split files
  ``aid/splits/{train,test}_50_seed0.txt``, one texture per class.
- DOTA (detection): ``dota/{trainval,val}/images/P0000__256__0___0.png`` with
  ``labelTxt/*.txt`` polygons of the drawn objects; some objects are
  difficult, one label file per split is empty. Like the splitters' output
  (ours and mmrotate's) the files have no ``imagesource:``/``gsd:`` header,
  so mmrotate's ``DOTADataset`` reads them too. Objects are rectangles
  drawn at the angles their label polygons give (upright classes at 0).
- ImageNet (pretraining): ``imagenet/{train,val}/<wnid>/*.JPEG`` for the
  first :data:`IMAGENET_DEMO_CLASSES` synsets of ImageNet-1K and list files
  ``imagenet/meta/{train,val}.txt`` (``<wnid>/<file> <label>``, labels the
  synsets' ImageNet-1K indices), the class textures of the AID demo.
- MillionAID (pretraining): ``millionaid/images/<level 1>/[<level 2>/]<leaf>/
  P*.jpg`` for all 51 leaf classes, split by the preparation tool's function
  into ``millionaid/meta/{train,val}.txt``.
- Potsdam (segmentation): ``potsdam/img_dir/{train,val}`` and
  ``potsdam/ann_dir/{train,val}`` with names of mmseg's converter
  (``2_10_0_0_128_128.png``); label scenes are painted with the ISPRS colour
  palette, eroded at class borders (black) and decoded with
  :func:`~sparse_backbones.datasets.isprs_rgb_to_index`, as the converter
  does for the real labels.

Every dataset is written to a temporary folder that is renamed into place
when complete, so an interrupted run never leaves half a dataset behind.
"""
import copy
import math
import os
import os.path as osp
import shutil
import tempfile
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from .datasets.aid_split import aid_split_names, make_aid_split
from .datasets.classes import AID_CLASSES, DOTA_PALETTE, DOTA_V1_CLASSES
from .datasets.isprs import ISPRS_PALETTE_RGB, isprs_rgb_to_index
from .datasets.millionaid_split import (make_millionaid_split,
                                        write_millionaid_demo_tree)

__all__ = [
    'prepare_demo', 'demo_task', 'make_aid_demo', 'make_dota_demo',
    'make_imagenet_demo', 'make_millionaid_demo', 'make_potsdam_demo'
]

# Bump when the generated data changes, so old demo folders are rebuilt.
DEMO_VERSION = 3
_MARKER = '.demo_complete'

# Demo image sizes and schedules per task. The schedules are sized for the
# 2-core CPU target: cls and seg run in 1-2 minutes, det in about 3-5.
# ``rot`` is oriented detection (mmrotate) on the same DOTA patches;
# ``pretrain`` is classification on ImageNet-style data, one short epoch.
DEMO_IMAGE_SIZE = dict(cls=64, pretrain=64, det=256, rot=256, seg=128)
DEMO_BATCH_SIZE = dict(cls=16, pretrain=16, det=2, rot=2, seg=4)
DEMO_EPOCHS = dict(cls=12, pretrain=1, det=6, rot=6)
DEMO_ITERS = dict(seg=40)
DEMO_LOG_INTERVAL = dict(cls=5, pretrain=5, det=4, rot=4, seg=10)
# Tasks that detect objects (their model's train_cfg/test_cfg hold counts).
_DETECTION_TASKS = ('det', 'rot')

AID_DEMO_IMAGES_PER_CLASS = 12
AID_DEMO_TRAIN_PERCENT = 50
AID_DEMO_IMAGE_SIZE = 80
# The first ImageNet-1K synsets (tench ... ostrich): labels 0-9 of the 1000.
IMAGENET_DEMO_WNIDS = ('n01440764', 'n01443537', 'n01484850', 'n01491361',
                       'n01494475', 'n01496331', 'n01498041', 'n01514668',
                       'n01514859', 'n01518878')
IMAGENET_DEMO_CLASSES = len(IMAGENET_DEMO_WNIDS)
IMAGENET_DEMO_IMAGES = dict(train=16, val=6)  # per class
MILLIONAID_DEMO_IMAGES = 6  # per leaf class: 4 train, 2 val
DOTA_DEMO_PATCHES = dict(trainval=32, val=16)
DOTA_DEMO_PATCH_SIZE = 256
POTSDAM_DEMO_TILES = dict(
    train=('2_10', '2_11', '3_10', '3_11'), val=('5_15', '6_15'))
POTSDAM_DEMO_PATCH_SIZE = 128
POTSDAM_DEMO_GRID = dict(train=(2, 2), val=(1, 3))  # patches per tile: r x c


# ---------------------------------------------------------------- writing --
def _marker_text() -> str:
    return f'sparse_backbones demo data v{DEMO_VERSION}\n'


def _is_complete(root: str) -> bool:
    marker = osp.join(root, _MARKER)
    if not osp.isfile(marker):
        return False
    with open(marker) as f:
        return f.read() == _marker_text()


def _generate_once(root: str, writer: Callable[[str], None]) -> str:
    """Run ``writer`` into a temporary folder renamed to ``root`` at the end.

    A complete dataset of the current version is reused. A demo folder of an
    older version is replaced; any other existing folder is left alone and
    reported, since it may hold the user's data.
    """
    if _is_complete(root):
        return root
    if osp.exists(root):
        if not osp.isfile(osp.join(root, _MARKER)):
            raise FileExistsError(
                f'{root!r} exists but is not a complete demo dataset (no '
                f'{_MARKER} marker). Remove it, or pass another data_root, '
                'to generate the demo data.')
        shutil.rmtree(root)  # a demo dataset of an older version
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(root)}.tmp-', dir=parent)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        writer(tmp)
        with open(osp.join(tmp, _MARKER), 'w') as f:
            f.write(_marker_text())
        try:
            os.rename(tmp, root)
        except OSError:
            # Another process finished the same dataset first.
            if not _is_complete(root):
                raise
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _imwrite(path: str, image_rgb: np.ndarray, jpeg: bool = False) -> None:
    """Write an RGB (or single-channel) image with fixed encoder settings."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    image = image_rgb[..., ::-1] if image_rgb.ndim == 3 else image_rgb
    params = ([cv2.IMWRITE_JPEG_QUALITY, 95]
              if jpeg else [cv2.IMWRITE_PNG_COMPRESSION, 3])
    ok, data = cv2.imencode('.jpg' if jpeg else '.png',
                            np.ascontiguousarray(image), params)
    if not ok:
        raise OSError(f'Cannot encode {path!r}')
    with open(path, 'wb') as f:
        f.write(data.tobytes())


def _texture(rng: np.random.Generator,
             size: Tuple[int, int],
             base: Sequence[float],
             amplitude: float,
             cells: int = 6) -> np.ndarray:
    """Smooth random colour field around ``base`` (float32 RGB, H x W x 3)."""
    h, w = size
    coarse = rng.normal(0, amplitude, (cells, cells, 3)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, amplitude / 3, (h, w, 3)).astype(np.float32)
    return np.asarray(base, np.float32) + field + fine


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _rotated_rect(cx: float, cy: float, length: float, width: float,
                  angle: float) -> np.ndarray:
    """Corners (4, 2) of a rotated rectangle, clockwise on screen."""
    c, s = math.cos(angle), math.sin(angle)
    half = np.array([[-length, -width], [length, -width], [length, width],
                     [-length, width]]) / 2
    rot = np.array([[c, -s], [s, c]])
    return half @ rot.T + np.array([cx, cy])


def _fill(image: np.ndarray, polygon: np.ndarray, colour) -> None:
    """Fill a float polygon exactly (4 fractional bits, anti-aliased)."""
    points = np.rint(polygon * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(image, [points], colour, lineType=cv2.LINE_AA, shift=4)


# -------------------------------------------------------------------- AID --
def _aid_image(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    """A texture whose pattern (label % 6) and colours (label // 6) encode
    the class; position, phase, scale and noise vary per image."""
    pattern, scheme = label % 6, label // 6
    hues = ((60, 110, 60), (150, 130, 90), (70, 90, 140), (130, 130, 130),
            (160, 90, 70))
    background = np.array(hues[scheme], np.float32)
    foreground = 255 - background * 0.6
    image = _texture(rng, (size, size), background, 12)
    mask = np.zeros((size, size), np.float32)
    period = rng.uniform(10, 16)
    phase = rng.uniform(0, period)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if pattern == 0:  # scattered discs
        for _ in range(int(rng.integers(4, 8))):
            centre = tuple(int(v) for v in rng.integers(8, size - 8, 2))
            cv2.circle(mask, centre, int(rng.integers(5, 10)), 1.0, -1)
    elif pattern == 1:  # horizontal stripes
        mask[:] = ((yy + phase) % period) < period / 2
    elif pattern == 2:  # vertical stripes
        mask[:] = ((xx + phase) % period) < period / 2
    elif pattern == 3:  # diagonal stripes
        mask[:] = ((xx + yy + phase) % period) < period / 2
    elif pattern == 4:  # grid of blocks
        mask[:] = (((xx + phase) % period) < period * 0.6) & ((
            (yy + phase) % period) < period * 0.6)
    else:  # concentric rings around a random centre
        cx, cy = rng.uniform(size * 0.3, size * 0.7, 2)
        radius = np.hypot(xx - cx, yy - cy)
        mask[:] = (radius % period) < period / 2
    image = image * (1 - mask[..., None]) + foreground * mask[..., None]
    return _to_uint8(image + rng.normal(0, 4, image.shape))


def _write_aid(root: str) -> None:
    rng = np.random.default_rng(20261121)
    for label, name in enumerate(AID_CLASSES):
        for i in range(1, AID_DEMO_IMAGES_PER_CLASS + 1):
            image = _aid_image(rng, label, AID_DEMO_IMAGE_SIZE)
            _imwrite(
                osp.join(root, name, f'{name.lower()}_{i}.jpg'),
                image,
                jpeg=True)
    make_aid_split(root, train_percent=AID_DEMO_TRAIN_PERCENT, seed=0)


def make_aid_demo(root: str) -> str:
    """Write the AID demo tree (30 class folders, split files) once.

    Args:
        root (str): Output folder, e.g. ``'data/demo/aid'``.

    Returns:
        str: ``root``.
    """
    return _generate_once(root, _write_aid)


# --------------------------------------------------------------- ImageNet --
def _write_imagenet(root: str) -> None:
    rng = np.random.default_rng(20261208)
    serial = 0  # ImageNet's val files are numbered across classes
    for split, count in IMAGENET_DEMO_IMAGES.items():
        lines = []
        for label, wnid in enumerate(IMAGENET_DEMO_WNIDS):
            for i in range(1, count + 1):
                serial += split == 'val'
                name = (f'ILSVRC2012_val_{serial:08d}.JPEG'
                        if split == 'val' else f'{wnid}_{i}.JPEG')
                image = _aid_image(rng, label, AID_DEMO_IMAGE_SIZE)
                _imwrite(osp.join(root, split, wnid, name), image, jpeg=True)
                lines.append(f'{wnid}/{name} {label}\n')
        os.makedirs(osp.join(root, 'meta'), exist_ok=True)
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.writelines(lines)


def make_imagenet_demo(root: str) -> str:
    """Write the ImageNet demo tree (10 synset folders per split, list
    files) once.

    Args:
        root (str): Output folder, e.g. ``'data/demo/imagenet'``.

    Returns:
        str: ``root``.
    """
    return _generate_once(root, _write_imagenet)


# ------------------------------------------------------------- MillionAID --
def _write_millionaid(root: str) -> None:
    write_millionaid_demo_tree(
        osp.join(root, 'images'),
        MILLIONAID_DEMO_IMAGES,
        np.random.default_rng(20261208),
        size=AID_DEMO_IMAGE_SIZE)
    make_millionaid_split(
        osp.join(root, 'images'),
        root,
        val_per_class=MILLIONAID_DEMO_IMAGES // 3)


def make_millionaid_demo(root: str) -> str:
    """Write the MillionAID demo tree (51 leaf folders, split files) once.

    Args:
        root (str): Output folder, e.g. ``'data/demo/millionaid'``.

    Returns:
        str: ``root``.
    """
    return _generate_once(root, _write_millionaid)


# ------------------------------------------------------------------- DOTA --
# Per class: (length range in px, width / length, axis-aligned?). Sizes are
# for 256-pixel patches; the shapes loosely follow the real categories.
_DOTA_SHAPES = {
    'plane': ((28, 44), 0.9, False),
    'baseball-diamond': ((36, 52), 1.0, False),
    'bridge': ((48, 80), 0.25, False),
    'ground-track-field': ((56, 80), 0.55, False),
    'small-vehicle': ((10, 16), 0.5, False),
    'large-vehicle': ((20, 30), 0.35, False),
    'ship': ((22, 40), 0.3, False),
    'tennis-court': ((24, 32), 0.5, True),
    'basketball-court': ((24, 34), 0.55, True),
    'storage-tank': ((16, 30), 1.0, True),
    'soccer-ball-field': ((48, 70), 0.65, True),
    'roundabout': ((36, 56), 1.0, True),
    'harbor': ((40, 70), 0.3, False),
    'swimming-pool': ((14, 24), 0.6, True),
    'helicopter': ((18, 28), 0.8, False),
}


def _overlaps(box: np.ndarray, boxes: List[np.ndarray]) -> bool:
    for other in boxes:
        ix = min(box[2], other[2]) - max(box[0], other[0])
        iy = min(box[3], other[3]) - max(box[1], other[1])
        if ix > -2 and iy > -2:
            return True
    return False


def _dota_patch(rng: np.random.Generator, size: int,
                empty: bool) -> Tuple[np.ndarray, List[str]]:
    """Draw one patch and return it with its label lines."""
    image = _texture(rng, (size, size), (118, 112, 96), 18)
    # A couple of roads give the background structure that is not an object.
    for _ in range(int(rng.integers(1, 3))):
        y = float(rng.uniform(0, size))
        slope = float(rng.uniform(-0.4, 0.4))
        start = (0, int(y))
        end = (size, int(y + slope * size))
        cv2.line(image, start, end, (88, 88, 92), int(rng.integers(6, 12)))
    lines: List[str] = []
    boxes: List[np.ndarray] = []
    num_objects = 0 if empty else int(rng.integers(2, 7))
    for _ in range(num_objects):
        for _attempt in range(20):
            label = int(rng.integers(len(DOTA_V1_CLASSES)))
            name = DOTA_V1_CLASSES[label]
            (low, high), ratio, upright = _DOTA_SHAPES[name]
            length = float(rng.uniform(low, high))
            angle = 0.0 if upright else float(rng.uniform(0, math.pi))
            margin = length / 2 + 2
            cx, cy = rng.uniform(margin, size - margin, 2)
            polygon = np.round(
                _rotated_rect(cx, cy, length, length * ratio, angle), 1)
            box = np.concatenate([polygon.min(0), polygon.max(0)])
            if not _overlaps(box, boxes):
                break
        else:
            continue
        boxes.append(box)
        colour = np.array(DOTA_PALETTE[label], np.float32)
        _fill(image, polygon, tuple(float(v) for v in colour))
        # A darker inner rectangle: a second cue besides colour and shape.
        inner = _rotated_rect(cx, cy, length * 0.5, length * ratio * 0.35,
                              angle)
        _fill(image, inner, tuple(float(v) for v in colour * 0.55))
        # Small objects are difficult, as in DOTA; a few others too.
        difficult = int(length < 14 or rng.random() < 0.1)
        coords = ' '.join(f'{v:.1f}' for v in polygon.reshape(-1))
        lines.append(f'{coords} {name} {difficult}')
    image = _to_uint8(image + rng.normal(0, 3, image.shape))
    return image, lines


def _write_dota(root: str) -> None:
    rng = np.random.default_rng(1024)
    index = 0
    for split, count in DOTA_DEMO_PATCHES.items():
        os.makedirs(osp.join(root, split, 'labelTxt'), exist_ok=True)
        for i in range(count):
            stem = f'P{index:04d}__{DOTA_DEMO_PATCH_SIZE}__0___0'
            index += 1
            # The fourth patch of every split has no object: empty file.
            image, lines = _dota_patch(rng, DOTA_DEMO_PATCH_SIZE, i == 3)
            _imwrite(osp.join(root, split, 'images', stem + '.png'), image)
            with open(osp.join(root, split, 'labelTxt', stem + '.txt'),
                      'w') as f:
                f.write(''.join(line + '\n' for line in lines))


def make_dota_demo(root: str) -> str:
    """Write the DOTA demo patches (``trainval/`` and ``val/``) once.

    Args:
        root (str): Output folder, e.g. ``'data/demo/dota'``.

    Returns:
        str: ``root``.
    """
    return _generate_once(root, _write_dota)


# ---------------------------------------------------------------- Potsdam --
# Class indices into ISPRS_PALETTE_RGB.
_IMPERVIOUS, _BUILDING, _LOW_VEG, _TREE, _CAR, _CLUTTER = range(6)
# Mean RGB of each class in the synthetic orthophoto.
_POTSDAM_LOOK = {
    _IMPERVIOUS: ((150, 150, 146), 8),
    _BUILDING: ((170, 90, 80), 10),
    _LOW_VEG: ((120, 160, 90), 14),
    _TREE: ((40, 90, 40), 16),
    _CAR: ((30, 60, 200), 6),
    _CLUTTER: ((140, 110, 60), 20),
}


def _potsdam_scene(rng: np.random.Generator,
                   size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return (RGB image, RGB colour label) of one synthetic patch."""
    classes = np.full((size, size), _LOW_VEG, np.uint8)
    # Roads: bands of impervious surface, with cars on them.
    road_centres = []
    for _ in range(int(rng.integers(1, 3))):
        y = int(rng.integers(size // 6, size - size // 6))
        width = int(rng.integers(10, 18))
        classes[max(0, y - width // 2):y + width // 2] = _IMPERVIOUS
        road_centres.append(y)
    if rng.random() < 0.5:
        classes = np.ascontiguousarray(classes.T)
        vertical = True
    else:
        vertical = False
    for _ in range(int(rng.integers(1, 4))):  # buildings
        w, h = rng.integers(18, 40, 2)
        x, y = rng.integers(0, size - 18, 2)
        cv2.rectangle(classes, (int(x), int(y)), (int(x + w), int(y + h)),
                      _BUILDING, -1)
    for _ in range(int(rng.integers(2, 6))):  # trees
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(classes, centre, int(rng.integers(5, 12)), _TREE, -1)
    for _ in range(int(rng.integers(0, 3))):  # clutter
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(3, 8, 2))
        cv2.ellipse(classes, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    _CLUTTER, -1)
    for y in road_centres:  # cars, drawn last so they stay visible
        for _ in range(int(rng.integers(1, 4))):
            along = int(rng.integers(4, size - 12))
            box = ((along, y - 3), (along + 8, y + 2))
            if vertical:
                box = ((y - 3, along), (y + 2, along + 8))
            cv2.rectangle(classes, box[0], box[1], _CAR, -1)

    image = np.zeros((size, size, 3), np.float32)
    for index, (mean, amplitude) in _POTSDAM_LOOK.items():
        texture = _texture(rng, (size, size), mean, amplitude)
        image[classes == index] = texture[classes == index]
    image = _to_uint8(cv2.GaussianBlur(image, (3, 3), 0.7))

    palette = np.array(ISPRS_PALETTE_RGB, np.uint8)
    label_rgb = palette[classes]
    # Eroded ground truth ("noBoundary"): class borders are black.
    kernel = np.ones((3, 3), np.uint8)
    border = cv2.dilate(classes, kernel) != cv2.erode(classes, kernel)
    label_rgb[border] = 0
    return image, label_rgb


def _write_potsdam(root: str) -> None:
    rng = np.random.default_rng(6000)
    size = POTSDAM_DEMO_PATCH_SIZE
    for split, tiles in POTSDAM_DEMO_TILES.items():
        rows, cols = POTSDAM_DEMO_GRID[split]
        for tile in tiles:
            for r in range(rows):
                for c in range(cols):
                    x0, y0 = c * size, r * size
                    name = f'{tile}_{x0}_{y0}_{x0 + size}_{y0 + size}.png'
                    image, label_rgb = _potsdam_scene(rng, size)
                    _imwrite(osp.join(root, 'img_dir', split, name), image)
                    _imwrite(
                        osp.join(root, 'ann_dir', split, name),
                        isprs_rgb_to_index(label_rgb))


def make_potsdam_demo(root: str) -> str:
    """Write the Potsdam demo patches (``img_dir``/``ann_dir``) once.

    Args:
        root (str): Output folder, e.g. ``'data/demo/potsdam'``.

    Returns:
        str: ``root``.
    """
    return _generate_once(root, _write_potsdam)


# ----------------------------------------------------------------- config --
_SCOPE_TO_TASK = dict(
    mmpretrain='cls', mmcls='cls', mmdet='det', mmrotate='rot', mmseg='seg')
# Dataset classes that read each demo layout (registered names).
_DEMO_DATASETS = dict(
    cls=('AIDDataset', 'CustomDataset'),
    pretrain=('ImageNet', 'MillionAIDDataset'),
    det=('DOTADataset', 'DOTAv15Dataset'),
    rot=('DOTADataset', 'DOTAv15Dataset', 'DOTAv2Dataset'),
    seg=('ISPRSPotsdamDataset', 'PotsdamDataset'))
_DEFAULT_DATASET = dict(
    cls='sparse_backbones.AIDDataset',
    pretrain='ImageNet',  # mmpretrain's; see _PRETRAIN_LAYOUTS
    det='sparse_backbones.DOTADataset',
    rot='DOTADataset',  # mmrotate's
    seg='sparse_backbones.ISPRSPotsdamDataset')
# Evaluators of the demo datasets, for configs whose own evaluator cannot
# score them (COCO metrics need a json; the cls/seg metrics fit any dataset).
_DEFAULT_EVALUATOR = dict(
    det=dict(
        type='VOCMetric', metric='mAP', eval_mode='11points', iou_thrs=0.5))
_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def demo_task(cfg: Config) -> str:
    """Return ``'cls'``, ``'pretrain'`` (classification on ImageNet-style
    data), ``'det'``, ``'rot'`` (oriented detection) or ``'seg'`` for a
    config.

    The config's ``default_scope`` decides; without one, the model type.
    A classification config whose training set is one of the pretraining
    datasets is ``'pretrain'``.
    """
    task = _SCOPE_TO_TASK.get(cfg.get('default_scope'))
    if task is None:
        task = _task_of_model(cfg.get('model') or {},
                              cfg.get('default_scope'))
    if task == 'cls' and cfg.get('train_dataloader'):
        train_set = _innermost_dataset(cfg.train_dataloader)
        if _type_name(train_set) in _DEMO_DATASETS['pretrain']:
            return 'pretrain'
    return task


def _type_name(dataset: dict) -> str:
    return str(dataset.get('type', '')).split('.')[-1]


def _task_of_model(model: dict, scope: Optional[str]) -> str:
    model_type = str(model.get('type', '')).split('.')[-1]
    if model_type == 'ImageClassifier':
        return 'cls'
    if model_type in ('EncoderDecoder', 'CascadeEncoderDecoder'):
        return 'seg'
    if 'roi_head' in model or 'rpn_head' in model or 'bbox_head' in model:
        return 'det'
    raise ValueError(
        'Cannot tell whether the config is for classification, detection or '
        f'segmentation: default_scope is {scope!r} and '
        f'the model type {model_type!r}. Set default_scope to mmpretrain, '
        'mmdet or mmseg.')


def _innermost_dataset(loader: dict) -> dict:
    """The dataset dict that has the pipeline (unwraps RepeatDataset &co)."""
    dataset = loader['dataset']
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    if 'datasets' in dataset:
        raise ValueError('--demo does not support ConcatDataset configs.')
    return dataset


def _scaled(value, ratio: float):
    """Scale pixel sizes (ints); floats are relative sizes and stay."""
    if isinstance(value, int) and not isinstance(value, bool):
        return max(1, int(round(value * ratio)))
    if isinstance(value, (list, tuple)):
        return type(value)(_scaled(v, ratio) for v in value)
    return value


_SIZE_KEYS = ('scale', 'scales', 'crop_size')


def _rescale_transforms(transforms: list, ratio: float) -> None:
    """Scale every size argument of a pipeline, nested ones included."""
    for transform in transforms:
        if isinstance(transform, list):  # TestTimeAug branches
            _rescale_transforms(transform, ratio)
            continue
        if not isinstance(transform, dict):
            continue
        for key in _SIZE_KEYS:
            if key in transform:
                transform[key] = _scaled(transform[key], ratio)
        if isinstance(transform.get('transforms'), list):
            _rescale_transforms(transform['transforms'], ratio)


def _find_transform(pipeline: list, name: str) -> Optional[dict]:
    for transform in pipeline:
        if isinstance(transform, dict) and \
                str(transform.get('type', '')).split('.')[-1] == name:
            return transform
    return None


def _reference_size(cfg: Config, task: str) -> int:
    """Image size the config was written for (1024, 512, 224...)."""
    test_pipeline = _innermost_dataset(cfg.val_dataloader)['pipeline']
    if task == 'seg':
        size = cfg.model.get('data_preprocessor', {}).get('size')
        if size is None:
            crop = _find_transform(
                _innermost_dataset(cfg.train_dataloader)['pipeline'],
                'RandomCrop')
            size = crop and crop['crop_size']
    elif task in ('cls', 'pretrain'):
        crop = _find_transform(test_pipeline, 'CenterCrop')
        size = crop and crop['crop_size']
    else:
        resize = _find_transform(test_pipeline, 'Resize')
        size = resize and resize['scale']
    if not size:
        raise ValueError('--demo could not find the image size of the '
                         f'config (task {task}) in its pipelines.')
    return max(size) if isinstance(size, (list, tuple)) else int(size)


def _point_at_demo(dataset: dict, task: str, root: str, split: str) -> bool:
    """Set root, annotation and prefix of one dataset dict.

    Returns:
        bool: Whether the dataset type had to be replaced.
    """
    replaced = _type_name(dataset) not in _DEMO_DATASETS[task]
    if replaced:
        warnings.warn(f'--demo replaces dataset type {dataset.get("type")!r} '
                      f'by {_DEFAULT_DATASET[task]!r}, which reads the demo '
                      'data.')
        dataset['type'] = _DEFAULT_DATASET[task]
        # ConfigDict.update merges dicts: drop the other dataset's prefix
        # keys (e.g. COCO's data_prefix.img) rather than keep them.
        dataset.pop('data_prefix', None)
    train = split == 'train'
    split_name = 'train' if train else 'val'
    if task == 'cls':
        train_file, test_file = aid_split_names(AID_DEMO_TRAIN_PERCENT, 0)
        dataset.update(
            data_root=root,
            data_prefix='',
            ann_file=osp.join('splits', train_file if train else test_file))
    elif task == 'pretrain':
        dataset.pop('split', None)  # mmpretrain's ImageNet(split=...)
        dataset.update(
            data_root=root,
            data_prefix=_PRETRAIN_LAYOUTS[_type_name(dataset)][2][split_name],
            ann_file=osp.join('meta', f'{split_name}.txt'))
    elif task in _DETECTION_TASKS:
        folder = 'trainval' if train else 'val'
        dataset.update(
            data_root=root,
            ann_file=f'{folder}/labelTxt/',
            data_prefix=dict(img_path=f'{folder}/images/'))
    else:
        folder = 'train' if train else 'val'
        dataset.update(
            data_root=root,
            ann_file='',
            data_prefix=dict(
                img_path=f'img_dir/{folder}',
                seg_map_path=f'ann_dir/{folder}'))
    return replaced


# Per-image counts of proposals, sampled RoIs and detections in detectors'
# train_cfg/test_cfg (``num`` is a sampler's RoI count).
_COUNT_KEYS = ('nms_pre', 'max_per_img', 'num')


def _scale_counts(node, ratio: float) -> None:
    """Scale per-image counts: a patch with 1/4 the side holds about 1/4
    of the objects, and the RoI heads (mask head above all) cost per RoI."""
    if isinstance(node, list):
        for item in node:
            _scale_counts(item, ratio)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _COUNT_KEYS and isinstance(value, int):
                node[key] = _scaled(value, ratio)
            else:
                _scale_counts(value, ratio)


def _scale_point(point: int, factor: float) -> int:
    """Map a schedule point (epoch or iteration) into the demo schedule.

    Points stay at least 2 apart from 0: mmengine's ``LinearLR`` needs two
    steps to climb from ``start_factor`` back to the base LR, so a warm-up
    squeezed into one step would leave the LR at ``start_factor`` for good.
    The same mapping for every scheduler keeps adjacent ones adjacent (a
    warm-up's ``end`` stays the next scheduler's ``begin``).
    """
    return 0 if point <= 0 else max(2, int(round(point * factor)))


def _scale_scheduler(scheduler: dict, factor: float) -> None:
    """Scale begin/end/milestones/T_max of one scheduler by ``factor``."""
    scheduler['begin'] = _scale_point(scheduler.get('begin', 0), factor)
    if 'end' in scheduler and scheduler['end'] < 2**30:
        scheduler['end'] = _scale_point(scheduler['end'], factor)
    if 'milestones' in scheduler:
        scheduler['milestones'] = sorted(
            {_scale_point(m, factor)
             for m in scheduler['milestones']})
    if 'T_max' in scheduler:
        scheduler['T_max'] = _scale_point(scheduler['T_max'], factor)


def _epochs_to_iterations(scheduler: dict, epochs: int,
                          total_iters: int) -> None:
    """Spread an epoch scheduler over the iterations of a one-epoch demo
    (in epochs, a warm-up of 5 of 300 and the cosine after it would both
    fall past the end)."""
    def point(epoch: float) -> int:
        return _scale_point(epoch, total_iters / epochs)

    begin = min(point(scheduler.get('begin', 0)), total_iters - 2)
    end = scheduler.get('end', epochs)
    end = total_iters if end >= epochs else min(point(end), total_iters)
    scheduler.update(begin=begin, end=max(end, begin + 2), by_epoch=False)
    scheduler.pop('convert_to_iter_based', None)
    if 'T_max' in scheduler:
        scheduler['T_max'] = scheduler['end'] - begin


def _shorten_schedule(cfg: Config, task: str, iters_per_epoch: int) -> None:
    """Shrink the train loop, LR schedule, logging and checkpointing."""
    train_cfg = cfg.train_cfg
    by_epoch = 'max_epochs' in train_cfg
    if by_epoch:
        old, new = train_cfg.max_epochs, DEMO_EPOCHS[task]
        train_cfg.max_epochs = new
        total_iters = new * iters_per_epoch
    else:
        old, new = train_cfg.max_iters, DEMO_ITERS[task]
        train_cfg.max_iters = new
        total_iters = new
    train_cfg.val_interval = new  # validate once, at the end

    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        if by_epoch and new == 1 and scheduler.get('by_epoch', True):
            _epochs_to_iterations(scheduler, old, total_iters)
        elif by_epoch and not scheduler.get('by_epoch', True):
            # An iteration warm-up inside epoch training: cap at 10 %
            # (at least 2 iterations, see _scale_point).
            limit = max(2, total_iters // 10)
            scheduler['begin'] = min(scheduler.get('begin', 0), limit - 2)
            scheduler['end'] = min(scheduler.get('end', limit), limit)
        else:
            _scale_scheduler(scheduler, new / old)

    hooks = cfg.get('default_hooks', ConfigDict())
    interval = DEMO_LOG_INTERVAL[task]
    if 'logger' in hooks:
        hooks.logger.interval = interval
    if 'checkpoint' in hooks:
        hooks.checkpoint.interval = new
        hooks.checkpoint.max_keep_ckpts = 1
    if 'log_processor' in cfg:
        cfg.log_processor.window_size = interval


def _count_train_samples(task: str, root: str) -> int:
    if task == 'cls':
        name = aid_split_names(AID_DEMO_TRAIN_PERCENT, 0)[0]
        with open(osp.join(root, 'splits', name)) as f:
            return sum(1 for line in f if line.strip())
    if task == 'pretrain':
        with open(osp.join(root, 'meta', 'train.txt')) as f:
            return sum(1 for line in f if line.strip())
    if task in _DETECTION_TASKS:
        return len(os.listdir(osp.join(root, 'trainval', 'images')))
    return len(os.listdir(osp.join(root, 'img_dir', 'train')))


# Pretraining datasets: registered name -> (demo folder, writer, image
# folder per split, type to build it by).
_PRETRAIN_LAYOUTS = {
    'ImageNet': ('imagenet', make_imagenet_demo,
                 dict(train='train', val='val'), 'ImageNet'),
    'MillionAIDDataset': ('millionaid', make_millionaid_demo,
                          dict(train='images', val='images'),
                          'sparse_backbones.MillionAIDDataset'),
}
_GENERATORS: Dict[str, Tuple[str, Callable[[str], str]]] = dict(
    cls=('aid', make_aid_demo),
    det=('dota', make_dota_demo),
    rot=('dota', make_dota_demo),
    seg=('potsdam', make_potsdam_demo))


def prepare_demo(cfg: Config, data_root: str = 'data/demo') -> Config:
    """Return a copy of ``cfg`` that trains on generated demo data.

    The task is read from the config (see :func:`demo_task`). The demo
    dataset of that task is written under ``data_root`` unless it is
    already there; then every dataloader points at it, the image size
    becomes 64 (cls), 256 (det) or 128 (seg) px with all pipeline sizes
    scaled alike, the schedule shrinks to a few epochs (or iterations) with
    one validation at the end, batch size and workers fit a 2-core CPU, and
    logging/checkpoint intervals follow. The model is left as configured,
    except what depends on the image size: segmentation
    ``data_preprocessor.size`` and sliding-window ``crop_size``/``stride``,
    and the per-image proposal, RoI-sample and detection counts of a
    detector's ``train_cfg``/``test_cfg`` (``nms_pre``, ``max_per_img``,
    sampler ``num``), which scale with the image side like the number of
    objects in a patch does.

    Args:
        cfg (Config): A train config of this repository (or a compatible
            one: AID-, DOTA- or Potsdam-style datasets).
        data_root (str): Where the demo datasets live.
            Defaults to 'data/demo'.

    Returns:
        Config: The demo config; ``cfg`` itself is not modified.
    """
    cfg = copy.deepcopy(cfg)
    task = demo_task(cfg)
    if task == 'pretrain':
        train_type = _type_name(_innermost_dataset(cfg.train_dataloader))
        folder, generate, _, dataset_type = _PRETRAIN_LAYOUTS[train_type]
    else:
        folder, generate = _GENERATORS[task]
    root = generate(osp.join(data_root, folder))

    ratio = DEMO_IMAGE_SIZE[task] / _reference_size(cfg, task)
    rescaled = set()  # loaders may share a pipeline: scale it once
    for key in _LOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        dataset = _innermost_dataset(loader)
        if task == 'pretrain' and _type_name(dataset) != train_type:
            dataset['type'] = dataset_type  # val/test read the same layout
        replaced = _point_at_demo(dataset, task, root, key.split('_')[0])
        if replaced and key != 'train_dataloader' and \
                task in _DEFAULT_EVALUATOR:
            cfg[key.replace('dataloader', 'evaluator')] = copy.deepcopy(
                _DEFAULT_EVALUATOR[task])
        pipeline = dataset.get('pipeline', [])
        if id(pipeline) not in rescaled:
            rescaled.add(id(pipeline))
            _rescale_transforms(pipeline, ratio)
        if key == 'train_dataloader':
            loader.batch_size = DEMO_BATCH_SIZE[task]
        loader.num_workers = 0
        loader.persistent_workers = False
    if cfg.get('tta_pipeline'):
        _rescale_transforms(cfg.tta_pipeline, ratio)
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        for evaluator in (evaluators
                          if isinstance(evaluators, list) else [evaluators]):
            # COCO-style metrics then build their ground truth from the data.
            if isinstance(evaluator, dict) and 'ann_file' in evaluator:
                evaluator['ann_file'] = None

    # Settings of the model that follow the image size.
    if task in _DETECTION_TASKS:
        for key in ('train_cfg', 'test_cfg'):
            _scale_counts(cfg.model.get(key), ratio)
    preprocessor = cfg.model.get('data_preprocessor')
    if isinstance(preprocessor, dict) and preprocessor.get('size'):
        preprocessor['size'] = _scaled(preprocessor['size'], ratio)
    test_cfg = cfg.model.get('test_cfg')
    if isinstance(test_cfg, dict) and test_cfg.get('mode') == 'slide':
        test_cfg['crop_size'] = _scaled(test_cfg['crop_size'], ratio)
        test_cfg['stride'] = _scaled(test_cfg['stride'], ratio)

    batch = DEMO_BATCH_SIZE[task]
    iters_per_epoch = math.ceil(_count_train_samples(task, root) / batch)
    _shorten_schedule(cfg, task, iters_per_epoch)
    if cfg.get('env_cfg'):
        cfg.env_cfg.cudnn_benchmark = False
    randomness = cfg.get('randomness') or ConfigDict()
    if randomness.get('seed') is None:
        randomness['seed'] = 0  # reproducible demo runs
    cfg.randomness = randomness
    optim_wrapper = cfg.get('optim_wrapper') or {}
    if optim_wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        # mmengine's AmpOptimWrapper needs a GPU; the demo shows the rest
        # of the recipe in float32 rather than failing.
        optim_wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype'):
            optim_wrapper.pop(key, None)
        print_log(
            '--demo: no GPU, so the config\'s AmpOptimWrapper (mixed '
            'precision) runs as OptimWrapper in float32',
            logger='current')
    print_log(
        f'--demo: {task} on {root} at {DEMO_IMAGE_SIZE[task]} px, '
        f'batch {batch}, {iters_per_epoch} iterations per epoch',
        logger='current')
    return cfg
