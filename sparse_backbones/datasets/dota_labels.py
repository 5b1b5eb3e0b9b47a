# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Reader for DOTA ``labelTxt`` files (no host library needed).

Each object line reads ``x1 y1 x2 y2 x3 y3 x4 y4 category difficult``
(four clockwise polygon vertices in pixels). Original DOTA-v1.0 files start
with ``imagesource:...`` and ``gsd:...`` header lines; patch files written by
the DOTA devkit or mmrotate's splitter have no header and may use
difficulty ``2`` for objects truncated by the patch border.
"""
import math
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

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
