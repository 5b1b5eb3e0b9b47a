# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Checkpoints that are never half written.

mmengine's ``LocalBackend.put`` opens the final path and writes into it: a
run killed (``kill -9``, a preempted job, a full disk) while
``epoch_N.pth`` is being written leaves a truncated file under the
checkpoint's own name, which ``--resume`` or ``load_from`` then fail on.
:class:`AtomicLocalBackend` writes into a temporary file in the same folder,
flushes it to disk and renames it over the target (``os.replace`` is atomic
on one file system): the path holds the old file or the whole new one.

Registered as the mmengine file backend ``'atomic_local'``; ``tools/train.py``
gives it to the ``CheckpointHook`` (``backend_args``) unless the config
names a backend or a remote ``out_dir``. A plain-``Runner`` config asks for
it with ``default_hooks = dict(checkpoint=dict(
backend_args=dict(backend='atomic_local')))``.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

__all__ = ['AtomicLocalBackend', 'ATOMIC_BACKEND']

ATOMIC_BACKEND = 'atomic_local'


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with all-or-nothing writes."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        directory = osp.dirname(osp.abspath(filepath))
        os.makedirs(directory, exist_ok=True)
        handle, tmp = tempfile.mkstemp(
            dir=directory, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
        try:
            with os.fdopen(handle, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp makes the file private (0600); give it the mode a
            # plain open() would have.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.remove(tmp)
            raise

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
