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
pickled code from any file, :func:`enable_safe_checkpoint_loading` adds
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

Importing ``sparse_backbones`` changes nothing here; the allow-list is
installed by what loads checkpoints:

- ``tools/train.py``, ``tools/test.py``, ``tools/infer_large.py`` and
  ``tools/visualize.py`` call :func:`enable_safe_checkpoint_loading`;
- the model converters and ``init_cfg=dict(type='Pretrained')`` of our
  backbones load inside :func:`safe_checkpoint_loading`, which removes on
  exit what it added;
- a config run by a plain mmengine ``Runner`` lists
  ``dict(type='SafeCheckpointLoadingHook')`` in ``custom_hooks``
  (:class:`~sparse_backbones.engine.SafeCheckpointLoadingHook`);
- a user's own script calls
  ``sparse_backbones.enable_safe_checkpoint_loading()`` once.
"""
import contextlib
import os
import pickle
import pickletools
import re
import types
from typing import (Any, Callable, Iterator, List, Optional, Sequence, Set,
                    Tuple, Union)

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = [
    'enable_safe_checkpoint_loading', 'safe_checkpoint_loading',
    'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_globals',
    'unsafe_globals_in_file', 'foreign_globals_in_file',
    'describe_unreadable_checkpoint', 'RefusedGetattrError'
]

_SafeGlobal = Union[Callable, Tuple[Callable, str]]


def _dotted(obj: Any) -> str:
    """``module.qualname`` of a class or function, else a short repr."""
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        return f'{obj.__module__}.{obj.__qualname__}'
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + '...'


class RefusedGetattrError(pickle.UnpicklingError):
    """What the restricted ``getattr`` raises; keeps what the file asked
    for, so that the refusal can be described (torch rewraps it)."""

    def __init__(self, obj: Any, name: Any) -> None:
        self.call = f'getattr({_dotted(obj)}, {name!r})'
        super().__init__(
            f'{self.call} is refused: checkpoints may fetch only the '
            "statistics methods of mmengine's HistoryBuffer this way.")


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` during a ``weights_only`` load.

    Args:
        obj (Any): The object the pickle asks an attribute of.
        name (str): The attribute name.

    Returns:
        Callable: ``HistoryBuffer.<name>`` when it is a plain method of
        :class:`HistoryBuffer`.

    Raises:
        RefusedGetattrError: For any other object or attribute.
    """
    if obj is HistoryBuffer and isinstance(name, str) \
            and not name.startswith('_') \
            and isinstance(HistoryBuffer.__dict__.get(name),
                           types.FunctionType):
        return HistoryBuffer.__dict__[name]
    raise RefusedGetattrError(obj, name)


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


def _add_missing_globals(
        extra_globals: Sequence[_SafeGlobal] = ()) -> List[_SafeGlobal]:
    """Add the entries of :func:`mmengine_checkpoint_globals` and
    ``extra_globals`` that torch's allow-list lacks; return those added
    (none with torch < 2.4, which has no allow-list and loads with
    ``weights_only=False`` by default)."""
    serialization = torch.serialization
    if not hasattr(serialization, 'add_safe_globals'):
        return []
    present = serialization.get_safe_globals()
    missing = []
    for entry in [*mmengine_checkpoint_globals(), *extra_globals]:
        if entry not in present and entry not in missing:
            missing.append(entry)
    if missing:
        serialization.add_safe_globals(missing)
    return missing


def enable_safe_checkpoint_loading() -> None:
    """Let ``torch.load(..., weights_only=True)`` read mmengine checkpoints.

    The one call a user script needs before it resumes, tests or loads
    (``load_from``, ``load_checkpoint``, ``init_cfg``) a checkpoint that
    mmengine's ``Runner`` saved, under torch >= 2.6::

        import sparse_backbones
        sparse_backbones.enable_safe_checkpoint_loading()

    Adds the globals of :func:`mmengine_checkpoint_globals` to torch's
    process-wide allow-list, and nothing else: files holding any other
    global (a custom class instance, an ``os.system`` reduce ...) are still
    rejected by ``torch.load``. Idempotent; it checks the allow-list itself,
    so it also restores entries that ``clear_safe_globals`` removed. Does
    nothing with torch versions that lack ``add_safe_globals`` (< 2.4),
    whose default is ``weights_only=False`` anyway.
    """
    _add_missing_globals()


# The name of the first releases, kept for scripts and tests using it.
allow_mmengine_checkpoint_types = enable_safe_checkpoint_loading


@contextlib.contextmanager
def safe_checkpoint_loading(
        extra_globals: Sequence[_SafeGlobal] = ()) -> Iterator[None]:
    """:func:`enable_safe_checkpoint_loading` for the ``with`` block only.

    On exit, removes exactly the entries it added, so an allow-list that
    was already installed (by a tool, or by the user) stays as it was;
    ``torch.serialization.safe_globals`` would remove them all.

    Args:
        extra_globals (Sequence): More entries for the block, in the form
            of ``torch.serialization.add_safe_globals``.
    """
    added = _add_missing_globals(extra_globals)
    try:
        yield
    finally:
        if added:
            remaining = [
                entry for entry in torch.serialization.get_safe_globals()
                if entry not in added
            ]
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(remaining)


# Globals of plain tensor checkpoints in torch's legacy (non-zip) format.
_LEGACY_TENSOR_GLOBALS = ('torch.', 'collections.OrderedDict')


def unsafe_globals_in_file(path: str) -> List[str]:
    """The Python globals (``module.name``) that a checkpoint file would
    construct when unpickled, beyond torch's own, read without unpickling.

    Zip checkpoints (``torch.save``'s format) are read by torch's scanner.
    Legacy ``torch.save`` files and raw pickles, which torch's scanner
    refuses, are read opcode by opcode with :mod:`pickletools`.
    """
    try:
        return sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except ValueError:  # not a zip checkpoint
        pass
    found = set()
    with open(path, 'rb') as stream:
        end = os.fstat(stream.fileno()).st_size
        # A legacy file is several pickles in a row, then storage bytes.
        while stream.tell() < end:
            strings: List[str] = []
            try:
                for opcode, arg, _ in pickletools.genops(stream):
                    if opcode.name == 'GLOBAL':
                        found.add(arg.replace(' ', '.'))
                    elif opcode.name == 'STACK_GLOBAL' and len(strings) >= 2:
                        found.add('.'.join(strings[-2:]))
                    elif isinstance(arg, str) and 'UNICODE' in opcode.name:
                        strings.append(arg)
            except (ValueError, EOFError):  # the storage bytes
                break
    return sorted(
        name for name in found if not name.startswith(_LEGACY_TENSOR_GLOBALS))


def _global_name(entry: _SafeGlobal) -> str:
    """The ``module.name`` under which an allow-list entry is pickled."""
    return entry[1] if isinstance(entry, tuple) else _dotted(entry)


def foreign_globals_in_file(path: str) -> List[str]:
    """:func:`unsafe_globals_in_file` less what the loaders allow (torch's
    current allow-list and :func:`mmengine_checkpoint_globals`): the
    globals that make a file refused. Empty when the file cannot be
    scanned (it is no pickle)."""
    try:
        found = unsafe_globals_in_file(path)
    except Exception:  # noqa: BLE001  (not even a pickle)
        return []
    allowed: Set[str] = {
        _global_name(entry)
        for entry in [*mmengine_checkpoint_globals(),
                      *getattr(torch.serialization, 'get_safe_globals',
                               list)()]
    }
    return [name for name in found if name not in allowed]


def _refused_getattr(error: BaseException) -> Optional[str]:
    """The ``getattr(...)`` call the restricted getattr refused during
    the load that raised ``error``, if that is why it failed."""
    seen = set()
    cause: Optional[BaseException] = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, RefusedGetattrError):
            return cause.call
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    # torch raises its own error "from None"; the text still names it.
    match = re.search(r'(getattr\(.*\)) is refused', str(error))
    return match[1] if match else None


def _text_start(path: str) -> Optional[str]:
    """The first line of a file that reads as text, else None."""
    try:
        with open(path, 'rb') as stream:
            head = stream.read(200)
        text = head.decode('utf-8')
    except (OSError, UnicodeDecodeError):
        return None
    line = text.split('\n', 1)[0].strip()
    if not line or not line.isprintable():
        return None
    return line if len(line) <= 60 else line[:57] + '...'


def describe_unreadable_checkpoint(
        path: str,
        error: BaseException,
        expected: str = 'a file written by torch.save') -> str:
    """What a file that ``torch.load(weights_only=True)`` refused is.

    Names the globals, or the ``getattr``, a file would run code with, and
    never suggests an unrestricted load (torch's own message does: that is
    what runs the code). Used by every loader of ours that reports a
    refused file; call it where the loader's allow-list is in force.

    Args:
        path (str): The file.
        error (BaseException): What ``torch.load`` raised.
        expected (str): What the loader reads, for files that are no
            checkpoint at all.

    Returns:
        str: One or two sentences starting with the path.
    """
    refused = ('so the file was not loaded, and it must not be loaded '
               'unrestricted unless you trust where it came from.')
    if isinstance(error, EOFError) or (
            os.path.isfile(path) and os.path.getsize(path) == 0):
        return (f'{path} is empty (0 bytes) (EOFError); expected '
                f'{expected}.')
    if isinstance(error, pickle.UnpicklingError):
        foreign = foreign_globals_in_file(path)
        if foreign:
            return (f'{path} holds Python objects besides the weights '
                    f'({", ".join(foreign)}). Unpickling them runs whatever '
                    f'code they name, {refused}')
        call = _refused_getattr(error)
        if call:
            return (f'{path} asks, while unpickling, for {call}, which was '
                    "refused: checkpoints may fetch only the statistics "
                    "methods of mmengine's HistoryBuffer this way. Unpickled "
                    'unrestricted, it would hand the file that attribute to '
                    f'call, which runs code; {refused}')
    # torch's lines around the cause advise an unrestricted load.
    lines = [
        line.strip() for line in str(error).splitlines()
        if line.strip() and 'weights_only' not in line
    ]
    detail = lines[-1] if lines else ''
    if detail.endswith(':'):  # torch's "WeightsUnpickler error:" lead-in
        detail = ''
    text = _text_start(path)
    what = f': it is text beginning {text!r}' if text else ''
    return (f'{path} is not a checkpoint torch can read '
            f'({type(error).__name__}{": " + detail if detail else ""})'
            f'{what}; expected {expected}.')
