# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Split DOTA-v1.0/v1.5 images into patches for training and testing.

Single scale (the standard 1024x1024 patches, 200 pixels overlap)::

    python tools/dataset_converters/dota.py data/DOTA/train data/DOTA/val \\
        --out-dir data/split_ss_dota/trainval
    python tools/dataset_converters/dota.py data/DOTA/val \\
        --out-dir data/split_ss_dota/val
    python tools/dataset_converters/dota.py data/DOTA/test --images-only \\
        --out-dir data/split_ss_dota/test

Multi-scale (images rescaled by 0.5, 1.0 and 1.5, 500 pixels overlap)::

    python tools/dataset_converters/dota.py data/DOTA/train data/DOTA/val \\
        --multi-scale --out-dir data/split_ms_dota/trainval

Each source folder holds ``images/`` and ``labelTxt/`` (``--label-folder``
for another name, e.g. ``labelTxt-v1.5``). The output has the same two
folders, with patches named ``P0000__1024__824___0``
(``P0000__0.5__1024__0___0`` for a rescaled image), the convention the
dataset, the DOTA metric and ``tools/infer_large.py`` read back.

Per window, an object is kept when at least ``--iof-thr`` (0.7) of its
polygon lies inside (intersection over object). An object cut by the window
border is written clipped to the window, as 4 corners (its minimum-area
rectangle when the cut leaves more than 4), with difficulty 2, which the
dataset ignores. Windows that stick out of a small image are padded with
``--pad-value``, the normalisation mean of the configs, so padding is zero
after normalisation. Grayscale, RGBA and 16-bit images are written as 8-bit
RGB patches, read by :mod:`sparse_backbones.datasets.image_io` as every
other tool and the datasets read them: 16-bit pixels are scaled by one fixed
factor, ``value / 257`` (``--bit-depth 12`` for 12-bit sensors: ``value *
255 / 4095``), never stretched per image, so the patches of one scene keep
one radiometry and match what ``tools/infer_large.py`` feeds the model.

Label lines that cannot be read are reported with ``file:line`` and skipped;
an empty label file is an image without objects. The tool never writes into
a source folder, and it is resumable: images finished by an earlier run
with the same settings (listed in ``<out-dir>/.split_done`` with the size
and modification time of their image and label file) are skipped; an image
or label file changed since is split again, its old patches removed first.
"""
import argparse
import multiprocessing
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import shapely
from tqdm import tqdm

from sparse_backbones.datasets._common import check_out_dir_settings
from sparse_backbones.datasets.classes import DOTA_V1_CLASSES, DOTA_V15_CLASSES
from sparse_backbones.datasets.dota_labels import (DOTAObject, dota_patch_name,
                                                   parse_dota_label_file,
                                                   window_starts)
from sparse_backbones.datasets.image_io import (add_bit_depth_argument,
                                                read_image)

CLASSES = {'1.0': DOTA_V1_CLASSES, '1.5': DOTA_V15_CLASSES}
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
# RGB normalisation mean of the configs (ImageNet, as mmrotate's padding).
DEFAULT_PAD_VALUE = (124, 116, 104)
SINGLE_SCALE = dict(sizes=[1024], gaps=[200], rates=[1.0])
MULTI_SCALE = dict(sizes=[1024], gaps=[500], rates=[0.5, 1.0, 1.5])
DONE_FILE = '.split_done'
# (x1, y1, x2, y2) of a window in image pixels.
Window = Tuple[int, int, int, int]
# An object counts as cut by the border below this fraction inside.
_WHOLE = 1 - 1e-6


@dataclass(frozen=True)
class SplitSettings:
    """What decides the patches; stored next to them for resuming.

    Args:
        sizes (list[int]): Window sides, one per ``gaps`` entry.
        gaps (list[int]): Overlap of neighbouring windows.
        rates (list[float]): Scales applied to the image before cutting.
        iof_thr (float): Minimum part of an object inside a window.
        pad_value (list[int]): RGB value of the padding.
        classes (list[str]): Valid categories.
        with_labels (bool): Whether label files are read and written.
        bit_depth (int): Significant bits of 16-bit images (see
            :mod:`sparse_backbones.datasets.image_io`). Defaults to 16.
    """
    sizes: List[int]
    gaps: List[int]
    rates: List[float]
    iof_thr: float
    pad_value: List[int]
    classes: List[str]
    with_labels: bool
    bit_depth: int = 16


@dataclass
class ImageResult:
    """Outcome of one source image."""
    stem: str
    patches: int = 0
    objects: int = 0
    problems: List[str] = field(default_factory=list)
    error: Optional[str] = None


# ---------------------------------------------------------------- writing --
def _write_atomically(path: str, data: bytes) -> None:
    """Write through a temporary file, so a killed run leaves no half file.
    """
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------- objects --
def _four_corners(shape) -> np.ndarray:
    """4 corners of a clipped object: itself if a quadrilateral, else its
    minimum-area rectangle (DOTA lines have exactly 4 points)."""
    if shape.geom_type == 'Polygon':
        ring = np.asarray(shape.exterior.coords)[:-1]
        if len(ring) == 4:
            return ring
    ring = np.asarray(shapely.minimum_rotated_rectangle(shape).exterior.coords)
    ring = ring[:-1]
    if len(ring) != 4:  # a segment or a point: its bounds as a thin box
        x1, y1, x2, y2 = shape.bounds
        ring = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    return ring


def window_objects(objects: Sequence[DOTAObject], polygons: np.ndarray,
                   window: Window, iof_thr: float) -> List[str]:
    """Label lines of the objects kept in one window, in patch pixels.

    Args:
        objects (Sequence[DOTAObject]): Objects of the (rescaled) image.
        polygons (np.ndarray): ``(N, 8)`` their corners at this scale.
        window (tuple[int]): ``(x1, y1, x2, y2)`` in the same pixels.
        iof_thr (float): Keep objects with at least this part inside.

    Returns:
        list[str]: ``x1 y1 ... y4 category difficult`` lines.
    """
    x1, y1, x2, y2 = window
    box = shapely.box(x1, y1, x2, y2)
    xs, ys = polygons[:, 0::2], polygons[:, 1::2]
    # Only objects whose enclosing box meets the window can be inside.
    candidates = np.flatnonzero((xs.max(1) >= x1) & (xs.min(1) <= x2)
                                & (ys.max(1) >= y1) & (ys.min(1) <= y2))
    lines = []
    for index in candidates:
        obj, corners = objects[index], polygons[index]
        shape = shapely.Polygon(corners.reshape(4, 2))
        if not shape.is_valid:
            shape = shapely.make_valid(shape)
        if shape.area > 0:
            inside = shape.intersection(box)
            iof = inside.area / shape.area
        else:  # a degenerate label: kept where its centre is
            cx, cy = corners[0::2].mean(), corners[1::2].mean()
            inside = None
            iof = float(x1 <= cx <= x2 and y1 <= cy <= y2)
        if iof < iof_thr:
            continue
        difficult = obj.difficult
        points = corners.reshape(4, 2)
        if iof < _WHOLE and inside is not None:
            points = _four_corners(inside)
            difficult = 2
        points = points - np.array([x1, y1])
        coords = ' '.join(f'{v:.1f}' for v in points.reshape(-1))
        lines.append(f'{coords} {obj.class_name} {difficult}\n')
    return lines


# ------------------------------------------------------------------ split --
def split_image(img_path: str, label_path: Optional[str], out_dir: str,
                settings: SplitSettings) -> ImageResult:
    """Cut one image (and its labels) into patches under ``out_dir``.

    Args:
        img_path (str): Source image.
        label_path (str, optional): Its DOTA label file; None for images
            without labels (test split).
        out_dir (str): Folder with ``images/`` (and ``labelTxt/``).
        settings (SplitSettings): Windows, scales and thresholds.

    Returns:
        ImageResult: Patch and object counts and unreadable label lines;
        ``error`` says why nothing was written.
    """
    stem = osp.splitext(osp.basename(img_path))[0]
    result = ImageResult(stem)
    try:
        image = read_image(img_path, bit_depth=settings.bit_depth)
        objects: List[DOTAObject] = []
        if label_path is not None:
            parsed = parse_dota_label_file(label_path, settings.classes)
            objects = parsed.objects
            result.problems = [str(p) for p in parsed.problems]
        polygons = np.array([o.polygon for o in objects],
                            np.float64).reshape(-1, 8)
        pad_bgr = tuple(int(v) for v in settings.pad_value[::-1])
        for rate in settings.rates:
            scaled = image
            if rate != 1:
                scaled = cv2.resize(
                    image,
                    None,
                    fx=rate,
                    fy=rate,
                    interpolation=cv2.INTER_LINEAR)
            height, width = scaled.shape[:2]
            for size, gap in zip(settings.sizes, settings.gaps):
                for y in window_starts(height, size, gap):
                    for x in window_starts(width, size, gap):
                        patch = np.empty((size, size, 3), np.uint8)
                        patch[:] = pad_bgr
                        crop = scaled[y:y + size, x:x + size]
                        patch[:crop.shape[0], :crop.shape[1]] = crop
                        name = dota_patch_name(stem, size, x, y, rate)
                        ok, data = cv2.imencode('.png', patch)
                        if not ok:
                            raise OSError(f'cannot encode patch {name}')
                        _write_atomically(
                            osp.join(out_dir, 'images', name + '.png'),
                            data.tobytes())
                        result.patches += 1
                        if label_path is None:
                            continue
                        lines = window_objects(objects, polygons * rate,
                                               (x, y, x + size, y + size),
                                               settings.iof_thr)
                        result.objects += len(lines)
                        _write_atomically(
                            osp.join(out_dir, 'labelTxt', name + '.txt'),
                            ''.join(lines).encode())
    except Exception as err:  # noqa: BLE001  (reported per image)
        result.error = f'{img_path}: {type(err).__name__}: {err}'
    return result


def _split_job(job: tuple) -> ImageResult:
    return split_image(*job)


def list_sources(sources: Sequence[str], label_folder: str,
                 images_only: bool) -> List[Tuple[str, Optional[str]]]:
    """``(image, label file or None)`` of every image in the source folders.

    Raises:
        FileNotFoundError: A folder, or the label file of an image, is
            missing; the message says what is expected.
        ValueError: Two sources hold images of the same name.
    """
    pairs, seen = [], {}
    for source in sources:
        img_dir = osp.join(source, 'images')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'{img_dir!r} not found: each source must be a DOTA split '
                'folder with images/ and labelTxt/, e.g. data/DOTA/train '
                '(unzip part1.zip, part2.zip ... of the split into '
                'data/DOTA/train/images and labelTxt-v1.0/labelTxt.zip into '
                'data/DOTA/train/labelTxt).')
        label_dir = osp.join(source, label_folder)
        if not images_only and not osp.isdir(label_dir):
            raise FileNotFoundError(
                f'{label_dir!r} not found. Put the label files there (or '
                'name their folder with --label-folder); for the test split, '
                'whose labels are withheld, pass --images-only.')
        names = sorted(
            n for n in os.listdir(img_dir)
            if n.lower().endswith(IMAGE_EXTENSIONS))
        if not names:
            raise FileNotFoundError(
                f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {img_dir!r}')
        missing = []
        for name in names:
            stem = osp.splitext(name)[0]
            if stem in seen:
                raise ValueError(f'image {stem!r} is in both {seen[stem]!r} '
                                 f'and {source!r}; patch names would clash.')
            seen[stem] = source
            label = None
            if not images_only:
                label = osp.join(label_dir, stem + '.txt')
                if not osp.isfile(label):
                    missing.append(f'{stem}.txt')
            pairs.append((osp.join(img_dir, name), label))
        if missing:
            shown = ', '.join(missing[:10])
            more = f' and {len(missing) - 10} more' if len(missing) > 10 \
                else ''
            raise FileNotFoundError(
                f'{len(missing)} image(s) of {img_dir!r} have no label file '
                f'in {label_dir!r}: {shown}{more} (an image without objects '
                'needs an empty .txt file).')
    return pairs


def check_out_dir(out_dir: str, sources: Sequence[str]) -> None:
    """Refuse an output folder that is, or lies inside, a source folder."""
    out = osp.realpath(out_dir)
    for source in sources:
        src = osp.realpath(source)
        if out == src or out.startswith(src + os.sep):
            raise ValueError(
                f'--out-dir {out_dir!r} is inside the source folder '
                f'{source!r}; the splitter never writes into its sources. '
                'Choose a folder outside it, e.g. data/split_ss_dota/train.')


def input_fingerprint(img_path: str, label_path: Optional[str]) -> str:
    """Size and modification time of an image and its label file: what
    tells a finished image from one whose inputs changed since."""
    parts = []
    for path in (img_path, label_path):
        if path is None:
            parts.append('-')
        else:
            stat = os.stat(path)
            parts.append(f'{stat.st_size}:{stat.st_mtime_ns}')
    return ','.join(parts)


def _prepare_out_dir(out_dir: str, settings: SplitSettings) -> dict:
    """Create the output folders; return ``{stem: input fingerprint}`` of
    the images finished before (the last entry of a stem counts; a line
    without a fingerprint, from older versions, matches no input).

    Raises:
        ValueError: The folder holds patches made with other settings.
    """
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    if settings.with_labels:
        os.makedirs(osp.join(out_dir, 'labelTxt'), exist_ok=True)
    check_out_dir_settings(out_dir, settings.__dict__)
    done_path = osp.join(out_dir, DONE_FILE)
    done = {}
    if osp.isfile(done_path):
        with open(done_path) as f:
            for line in f:
                stem, _, fingerprint = line.rstrip('\n').partition('\t')
                if stem:
                    done[stem] = fingerprint
    return done


def _remove_patches(out_dir: str, stem: str) -> None:
    """Delete the patches (and labels) of one source image."""
    for folder in ('images', 'labelTxt'):
        directory = osp.join(out_dir, folder)
        if osp.isdir(directory):
            for name in os.listdir(directory):
                if name.startswith(stem + '__'):
                    os.remove(osp.join(directory, name))


def split_dota(sources: Sequence[str],
               out_dir: str,
               settings: SplitSettings,
               label_folder: str = 'labelTxt',
               nproc: int = 1,
               progress: bool = True) -> List[ImageResult]:
    """Split every image of ``sources`` into ``out_dir`` (see module doc).

    Args:
        sources (Sequence[str]): DOTA split folders (``images/``,
            ``labelTxt/``).
        out_dir (str): Output folder, outside every source.
        settings (SplitSettings): Windows, scales and thresholds.
        label_folder (str): Name of the label sub-folder.
            Defaults to 'labelTxt'.
        nproc (int): Worker processes; 1 splits in this process.
            Defaults to 1.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        list[ImageResult]: One per image split in this run (finished images
        of an earlier run are skipped and not listed).
    """
    if len(settings.sizes) != len(settings.gaps):
        raise ValueError('give one gap per size: got sizes '
                         f'{settings.sizes} and gaps {settings.gaps}')
    check_out_dir(out_dir, sources)
    pairs = list_sources(sources, label_folder, not settings.with_labels)
    done = _prepare_out_dir(out_dir, settings)
    fingerprints, todo, changed = {}, [], []
    for img, label in pairs:
        stem = osp.splitext(osp.basename(img))[0]
        fingerprints[stem] = input_fingerprint(img, label)
        if done.get(stem) == fingerprints[stem]:
            continue
        if stem in done:
            # Its image or label changed since: no stale patch may stay.
            _remove_patches(out_dir, stem)
            changed.append(stem)
        todo.append((img, label, out_dir, settings))
    if done and progress:
        print(f'{len(pairs) - len(todo)} image(s) already split in '
              f'{out_dir!r}, {len(todo)} to go'
              f'{f" ({len(changed)} changed since)" if changed else ""}.')
    results = []
    with open(osp.join(out_dir, DONE_FILE), 'a') as done_file:
        if nproc > 1 and len(todo) > 1:
            pool = multiprocessing.Pool(min(nproc, len(todo)))
            outcomes = pool.imap_unordered(_split_job, todo)
        else:
            pool, outcomes = None, map(_split_job, todo)
        try:
            for result in tqdm(
                    outcomes,
                    total=len(todo),
                    desc='split DOTA',
                    unit='img',
                    disable=not progress):
                results.append(result)
                if result.error is None:
                    # Only here, after all its files were written.
                    done_file.write(
                        f'{result.stem}\t{fingerprints[result.stem]}\n')
                    done_file.flush()
        finally:
            if pool is not None:
                pool.terminate()
    return results


# -------------------------------------------------------------------- CLI --
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Split DOTA images into patches (see the module doc)')
    parser.add_argument(
        'sources',
        nargs='+',
        help='DOTA split folders with images/ and labelTxt/, e.g. '
        'data/DOTA/train data/DOTA/val')
    parser.add_argument(
        '--out-dir', required=True, help='output folder (outside sources)')
    parser.add_argument(
        '--version',
        choices=sorted(CLASSES),
        default='1.0',
        help='DOTA version: the valid categories (1.5 adds '
        'container-crane); default 1.0')
    parser.add_argument(
        '--multi-scale',
        action='store_true',
        help='rates 0.5 1.0 1.5 and gap 500 unless given')
    parser.add_argument('--sizes', type=int, nargs='+', help='default 1024')
    parser.add_argument(
        '--gaps',
        type=int,
        nargs='+',
        help='overlaps, one per size; default 200 (500 with --multi-scale)')
    parser.add_argument(
        '--rates',
        type=float,
        nargs='+',
        help='image scales; default 1.0 (0.5 1.0 1.5 with --multi-scale)')
    parser.add_argument(
        '--iof-thr',
        type=float,
        default=0.7,
        help='keep objects with at least this part inside a window; '
        'default 0.7')
    parser.add_argument(
        '--pad-value',
        type=int,
        nargs=3,
        default=list(DEFAULT_PAD_VALUE),
        metavar=('R', 'G', 'B'),
        help='padding colour; default 124 116 104, the normalisation mean')
    parser.add_argument(
        '--label-folder',
        default='labelTxt',
        help='name of the label sub-folder of each source; default '
        'labelTxt')
    parser.add_argument(
        '--images-only',
        action='store_true',
        help='split images without labels (the test split)')
    add_bit_depth_argument(parser)
    parser.add_argument(
        '--nproc',
        type=int,
        default=min(8,
                    os.cpu_count() or 1),
        help='worker processes; default: the CPU count, at most 8')
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> SplitSettings:
    """Fill the defaults of the single- or multi-scale preset."""
    preset = MULTI_SCALE if args.multi_scale else SINGLE_SCALE
    sizes = args.sizes or preset['sizes']
    gaps = args.gaps or preset['gaps']
    if len(gaps) == 1 and len(sizes) > 1:
        gaps = gaps * len(sizes)
    return SplitSettings(
        sizes=list(sizes),
        gaps=list(gaps),
        rates=[float(r) for r in (args.rates or preset['rates'])],
        iof_thr=args.iof_thr,
        pad_value=list(args.pad_value),
        classes=list(CLASSES[args.version]),
        with_labels=not args.images_only,
        bit_depth=args.bit_depth)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the splitter; return the exit status (1 if an image failed, 2 if
    the sources or the output folder are wrong)."""
    args = parse_args(argv)
    settings = settings_from_args(args)
    try:
        results = split_dota(args.sources, args.out_dir, settings,
                             args.label_folder, args.nproc)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    problems = [p for r in results for p in r.problems]
    errors = [r.error for r in results if r.error]
    for problem in problems:
        print(f'skipped label line: {problem}', file=sys.stderr)
    for error in errors:
        print(f'failed: {error}', file=sys.stderr)
    print(f'{len(results) - len(errors)} image(s) split into '
          f'{sum(r.patches for r in results)} patch(es) with '
          f'{sum(r.objects for r in results)} object(s) in {args.out_dir}; '
          f'{len(problems)} unreadable label line(s) skipped, '
          f'{len(errors)} image(s) failed (rerun to retry them).')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
