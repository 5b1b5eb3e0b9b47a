# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Load mmengine checkpoints under torch's ``weights_only=True`` default.

Since torch 2.6, ``torch.load`` unpickles with ``weights_only=True`` unless
told otherwise, and mmengine 0.10.7 calls it without the argument. A
checkpoint that mmengine's ``Runner`` saved holds more than tensors: the
``message_hub`` state (:class:`~mmengine.logging.HistoryBuffer` objects
whose arrays are numpy arrays), numpy scalars among the logged metrics and
in ``meta``, and plain containers. Such files then fail to load for resume,
``load_from``, ``init_cfg=dict(type='Pretrained')`` and ``tools/test.py``.

Rather than switching ``weights_only`` off, which would execute arbitrary
pickled code from any file, :func:`allow_mmengine_checkpoint_types` adds
exactly the globals these checkpoints reference to torch's allow-list. The
list was taken from real training checkpoints of the classification,
detection and segmentation pipelines of this project (scanned with
``torch.serialization.get_unsafe_globals_in_checkpoint``).

One of those globals is ``builtins.getattr``: a ``HistoryBuffer`` pickles
its statistics methods (``HistoryBuffer.min`` ...) as
``getattr(HistoryBuffer, 'min')``. Allowing the real ``getattr`` would let a
file reach any attribute of any allowed object, so the name is bound to a
restricted stand-in that only returns the plain methods of
``HistoryBuffer``.
"""
import pickle
import types
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['allow_mmengine_checkpoint_types', 'mmengine_checkpoint_globals']

_SafeGlobal = Union[Callable, Tuple[Callable, str]]

_registered = False


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` during a ``weights_only`` load.

    Args:
        obj (Any): The object the pickle asks an attribute of.
        name (str): The attribute name.

    Returns:
        Callable: ``HistoryBuffer.<name>`` when it is a plain method of
        :class:`HistoryBuffer`.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    if obj is HistoryBuffer and isinstance(name, str) \
            and not name.startswith('_') \
            and isinstance(HistoryBuffer.__dict__.get(name),
                           types.FunctionType):
        return HistoryBuffer.__dict__[name]
    raise pickle.UnpicklingError(
        f'weights_only load: getattr({obj!r}, {name!r}) is not allowed; '
        'only the statistics methods of mmengine HistoryBuffer are.')


def _numpy_globals() -> List[_SafeGlobal]:
    """Numpy array, scalar and dtype globals, under both module spellings.

    numpy 2 pickles ``numpy._core.multiarray.*`` and numpy 1 pickles
    ``numpy.core.multiarray.*``; registering both names lets checkpoints
    written with either numpy load with the installed one.
    """
    # numpy >= 2 keeps the implementation in numpy._core.
    core = getattr(np, '_core', None) or np.core
    entries: List[_SafeGlobal] = []
    for func_name in ('_reconstruct', 'scalar'):
        func = getattr(core.multiarray, func_name)
        for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
            entries.append((func, f'{module}.{func_name}'))
    entries += [np.ndarray, np.dtype]
    # numpy >= 1.25 gives every dtype its own class (numpy.dtypes.Float64DType
    # ...), which numpy 2 pickles by name.
    dtypes = getattr(np, 'dtypes', None)
    for name in getattr(dtypes, '__all__', ()):
        cls = getattr(dtypes, name)
        if isinstance(cls, type) and issubclass(cls, np.dtype):
            entries.append(cls)
    return entries


def mmengine_checkpoint_globals() -> List[_SafeGlobal]:
    """Return the globals that mmengine training checkpoints reference.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`:
        callables, or ``(callable, 'module.qualname')`` pairs for names that
        differ from the callable's own.
    """
    return [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        *_numpy_globals(),
    ]


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list mmengine checkpoint types for ``weights_only`` loading.

    Idempotent. Files holding any other global (a custom class instance, an
    ``os.system`` reduce ...) are still rejected by ``torch.load``. Does
    nothing with torch versions that lack ``add_safe_globals`` (< 2.4), whose
    default is ``weights_only=False`` anyway.
    """
    global _registered
    if _registered:
        return
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(mmengine_checkpoint_globals())
    _registered = True
