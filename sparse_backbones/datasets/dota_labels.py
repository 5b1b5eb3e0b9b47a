# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Readers for DOTA files: labels and patch names (no host library).

Each object line reads ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult``
(four clockwise polygon vertices in pixels). Original DOTA-v1.0 files start
with ``imagesource:...`` and ``gsd:...`` header lines; patch files written by
the DOTA devkit or mmrotate's splitter have no header and may use
difficulty ``2`` for objects truncated by the patch border.

Patch files are named ``<image>__<size>__<x>___<y>`` (``P0000__1024__0___0``,
the DOTA devkit / mmrotate convention) with the window's top-left corner in
the image; patches of a rescaled image (multi-scale split) add the rate,
``<image>__<rate>__<size>__<x>___<y>`` (``P0000__0.5__1024__0___0``), whose
coordinates are in the rescaled image. :func:`dota_patch_name` writes and
:func:`parse_dota_patch_name` reads them, so the splitter, the metric that
merges patch detections and the large-scene inference share one convention.

DOTA images are RGB, grayscale (GF-2, JL-1) or, from other sources, 16-bit;
:func:`sparse_backbones.datasets.image_io.read_image` reads them all, as
every other image of the package.
"""
import math
import re
from dataclasses import dataclass, field
from typing import List, NamedTuple, Sequence, Tuple

# Header lines of the original label files, skipped by the reader.
HEADER_PREFIXES = ('imagesource:', 'gsd:')


class DOTALabelError(ValueError):
    """A DOTA label file contains a line that cannot be read."""


@dataclass(frozen=True)
class DOTAObject:
    """One annotated object of a DOTA label file.

    Args:
        polygon (tuple[float]): ``(x1, y1, ..., x4, y4)`` in pixels.
        class_name (str): Category string as written in the file.
        difficult (int): 0 for normal objects, 1 for difficult ones, 2 for
            objects truncated by a patch border (splitter output).
        line (int): 1-based line number in the file.
    """
    polygon: Tuple[float, ...]
    class_name: str
    difficult: int
    line: int

    @property
    def bbox(self) -> Tuple[float, float, float, float]:
        """Enclosing horizontal box ``(x_min, y_min, x_max, y_max)``."""
        xs, ys = self.polygon[0::2], self.polygon[1::2]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass(frozen=True)
class DOTALabelProblem:
    """A line that was not turned into an object, with the reason."""
    path: str
    line: int
    reason: str
    text: str

    def __str__(self) -> str:
        return f'{self.path}:{self.line}: {self.reason}: {self.text!r}'


@dataclass
class DOTALabelFile:
    """Objects and unreadable lines of one label file."""
    path: str
    objects: List[DOTAObject] = field(default_factory=list)
    problems: List[DOTALabelProblem] = field(default_factory=list)


def _parse_line(text: str, classes: Sequence[str], line_no: int) -> DOTAObject:
    """Parse one object line; raise ``ValueError`` saying what is wrong."""
    tokens = text.split()
    # The DOTA devkit accepts 9 tokens (difficulty left out) as difficulty 0.
    if len(tokens) not in (9, 10):
        raise ValueError(f'expected 10 tokens (8 coordinates, category, '
                         f'difficult), got {len(tokens)}')
    try:
        polygon = tuple(float(token) for token in tokens[:8])
    except ValueError:
        raise ValueError('coordinates must be numbers') from None
    if not all(math.isfinite(value) for value in polygon):
        raise ValueError('coordinates must be finite')
    class_name = tokens[8]
    if class_name not in classes:
        hint = ''
        if class_name == 'container-crane':
            hint = ' (a DOTA-v1.5 class: use DOTAv15Dataset)'
        raise ValueError(f'unknown class {class_name!r}{hint}')
    difficult = 0
    if len(tokens) == 10:
        try:
            difficult = int(tokens[9])
        except ValueError:
            raise ValueError('difficult must be an integer') from None
        if difficult < 0:
            raise ValueError('difficult must not be negative')
    return DOTAObject(polygon, class_name, difficult, line_no)


def parse_dota_label_file(path: str, classes: Sequence[str]) -> DOTALabelFile:
    """Read one DOTA ``labelTxt`` file.

    Header lines and blank lines are skipped. Lines that cannot be read
    (wrong number of tokens, non-numeric coordinates, a category outside
    ``classes``, a bad difficulty) are not dropped silently: each is returned
    in ``problems`` with its line number, and the caller decides whether to
    warn or raise. An empty file is an image without objects.

    Args:
        path (str): Label file path.
        classes (Sequence[str]): Valid category strings.

    Returns:
        DOTALabelFile: The objects and the problems, in file order.
    """
    result = DOTALabelFile(path)
    with open(path, encoding='utf-8-sig') as f:
        for line_no, raw in enumerate(f, start=1):
            text = raw.strip()
            if not text or text.lower().startswith(HEADER_PREFIXES):
                continue
            try:
                result.objects.append(_parse_line(text, classes, line_no))
            except ValueError as err:
                result.problems.append(
                    DOTALabelProblem(path, line_no, str(err), text))
    return result


# A rate always has a decimal point, so it cannot be mistaken for the size.
_PATCH_NAME = re.compile(r'^(?P<image>.+?)__(?:(?P<rate>\d+\.\d+)__)?'
                         r'(?P<size>\d+)__(?P<x>\d+)___(?P<y>\d+)$')


class DOTAPatch(NamedTuple):
    """Where a patch lies in its source image (see the module docstring).

    Args:
        image (str): Stem of the source image, e.g. ``'P0000'``.
        size (int): Window side in pixels.
        x (int): Left edge of the window in the rescaled image.
        y (int): Top edge of the window in the rescaled image.
        rate (float): Scale of the image the window was cut from.
    """
    image: str
    size: int
    x: int
    y: int
    rate: float = 1.0


def _format_rate(rate: float) -> str:
    """``0.5`` -> ``'0.5'``, ``2`` -> ``'2.0'`` (always with a point)."""
    text = f'{float(rate):.6f}'.rstrip('0')
    return text + '0' if text.endswith('.') else text


def dota_patch_name(image: str,
                    size: int,
                    x: int,
                    y: int,
                    rate: float = 1.0) -> str:
    """Name of a patch: ``P0000__1024__0___0`` or ``P0000__0.5__1024__0___0``.

    Args:
        image (str): Stem of the source image.
        size (int): Window side in pixels.
        x (int): Left edge of the window (in the image scaled by ``rate``).
        y (int): Top edge of the window (in the image scaled by ``rate``).
        rate (float): Scale applied to the image before cutting; 1.0 leaves
            the rate out of the name. Defaults to 1.0.
    """
    if rate <= 0:
        raise ValueError(f'rate must be positive, got {rate}')
    prefix = image if rate == 1 else f'{image}__{_format_rate(rate)}'
    return f'{prefix}__{int(size)}__{int(x)}___{int(y)}'


def parse_dota_patch_name(name: str) -> DOTAPatch:
    """Read a patch name written by :func:`dota_patch_name`.

    Args:
        name (str): File stem (a file name or path is accepted too).

    Returns:
        DOTAPatch: Source image, window size, offset and rate.

    Raises:
        ValueError: If ``name`` does not follow the convention.
    """
    stem = re.sub(r'\.[A-Za-z0-9]+$', '', name.replace('\\', '/'))
    stem = stem.rsplit('/', 1)[-1]
    match = _PATCH_NAME.match(stem)
    if match is None:
        raise ValueError(
            f'{name!r} is not a DOTA patch name: expected '
            '<image>__<size>__<x>___<y> (e.g. P0000__1024__0___0) or '
            '<image>__<rate>__<size>__<x>___<y> (e.g. '
            'P0000__0.5__1024__0___0), as written by '
            'tools/dataset_converters/dota.py.')
    rate = match['rate']
    return DOTAPatch(match['image'], int(match['size']), int(match['x']),
                     int(match['y']),
                     float(rate) if rate else 1.0)


def window_starts(length: int, size: int, gap: int) -> List[int]:
    """Start positions of windows of ``size`` covering ``length`` pixels.

    Windows advance by ``size - gap``; the last one is moved back to end at
    the border, so every window lies inside the image unless the image is
    smaller than one window (then a single window at 0, to be padded).

    Args:
        length (int): Image width or height.
        size (int): Window side.
        gap (int): Overlap of neighbouring windows; ``0 <= gap < size``.

    Returns:
        list[int]: Increasing start positions, the first one 0.
    """
    if size <= 0 or not 0 <= gap < size:
        raise ValueError(f'need size > 0 and 0 <= gap < size, got size='
                         f'{size}, gap={gap}')
    if length <= size:
        return [0]
    step = size - gap
    starts = list(range(0, length - size, step))
    starts.append(length - size)
    return starts
