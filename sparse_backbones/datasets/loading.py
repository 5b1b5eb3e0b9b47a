# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The image loading transform of our dataset classes.

:class:`LoadRSImageFromFile` is mmcv's ``LoadImageFromFile`` that decodes
with :mod:`~sparse_backbones.datasets.image_io`, so training and evaluation
see the same pixels as the converters and tools (16-bit scale, bands, EXIF
orientation). Every dataset class of this package routes the plain
``LoadImageFromFile`` of its pipeline here (:func:`route_image_loading`),
so the configs, mmdet's, mmseg's and mmpretrain's dataset configs included,
need no change. A step with another ``color_type`` or ``imdecode_backend``
is an explicit choice and is left alone.
"""
from typing import Any, List, Optional, Sequence

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio

from ..registry import TRANSFORMS, register_module
from .image_io import check_options, decode_image


@register_module(TRANSFORMS)
class LoadRSImageFromFile(LoadImageFromFile):
    """Load an image file with :func:`~.image_io.decode_image`.

    Required keys: ``img_path``. Modified keys: ``img`` (``(H, W, 3)``,
    BGR as mmcv's loader gives it, uint8 or float32), ``img_shape``,
    ``ori_shape``.

    Args:
        to_float32 (bool): Return float32 instead of uint8. Defaults to
            False.
        ignore_empty (bool): Return None for missing or unreadable files
            instead of raising. Defaults to False.
        bit_depth (int): Significant bits of 16-bit pixels (see
            :mod:`~.image_io`). Defaults to 16.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 to_float32: bool = False,
                 ignore_empty: bool = False,
                 bit_depth: int = 16,
                 *,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(
            to_float32=to_float32,
            ignore_empty=ignore_empty,
            backend_args=backend_args)
        check_options('bgr', bit_depth)
        self.bit_depth = bit_depth

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            data = fileio.get(filename, backend_args=self.backend_args)
            img = decode_image(data, str(filename), bit_depth=self.bit_depth)
        except Exception:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(to_float32={self.to_float32}, '
                f'ignore_empty={self.ignore_empty}, '
                f'bit_depth={self.bit_depth}, '
                f'backend_args={self.backend_args})')


def _is_plain_loader(step: Any) -> bool:
    """A ``LoadImageFromFile`` step that decodes as mmcv's default does."""
    if not isinstance(step, dict):
        return False
    kind = step.get('type')
    name = kind.split('.')[-1] if isinstance(kind, str) else None
    if kind is not LoadImageFromFile and name != 'LoadImageFromFile':
        return False
    return (step.get('color_type', 'color') == 'color'
            and step.get('imdecode_backend', 'cv2') == 'cv2'
            and step.get('file_client_args') is None)


def route_image_loading(pipeline: Optional[Sequence[Any]]) -> List[Any]:
    """Replace plain ``LoadImageFromFile`` steps by
    :class:`LoadRSImageFromFile`, keeping their other arguments.

    Args:
        pipeline (Sequence, optional): Transform configs or objects.

    Returns:
        list: A new list; the steps that are not replaced are the same
        objects.
    """
    routed = []
    for step in pipeline or []:
        if _is_plain_loader(step):
            step = {
                key: value
                for key, value in dict(step).items()
                if key not in ('type', 'color_type', 'imdecode_backend',
                               'file_client_args')
            }
            step['type'] = LoadRSImageFromFile
        routed.append(step)
    return routed


class RSImageLoadingMixin:
    """For dataset classes: load images with :class:`LoadRSImageFromFile`.

    Put it before the host dataset class in the bases; it rewrites the
    ``pipeline`` argument with :func:`route_image_loading`.
    """

    def __init__(self, *args, pipeline: Sequence[Any] = (), **kwargs):
        super().__init__(
            *args, pipeline=route_image_loading(pipeline), **kwargs)
