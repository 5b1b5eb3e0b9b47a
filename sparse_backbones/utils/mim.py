# Copyright (c) sparse_backbones contributors. All rights reserved.
"""``sparse_backbones::`` config paths, as ``mmdet::`` and ``mmseg::``.

A user's config can inherit ours by package name::

    _base_ = ['sparse_backbones::det/mask-rcnn_lemevit-tiny_fpn_1x_dota.py']

mmengine 0.10 resolves ``<scope>::<task>/<file>`` in three steps
(``mmengine/config/config.py::Config._get_cfg_path``):

1. ``<scope>`` must be a key of ``mmengine.config.utils.MODULE2PACKAGE``,
   whose value names what ``mmengine.utils.get_installed_path`` is given;
2. that returns the package directory, where ``.mim/model-index.yml``
   must exist (it is read first) and ``.mim/configs/<task>/<file>`` is the
   config. ``setup.py`` puts both there: symlinks to the repository's
   ``configs/`` and ``model-index.yml`` for an editable install, copies in
   a wheel;
3. every dict with a ``type`` in the inherited file that has no
   ``_scope_`` yet gets ``_scope_='sparse_backbones'``. Our configs give
   host-built dicts their host's ``_scope_`` (configs/README.md).

:func:`register_config_package` does step 1; ``import sparse_backbones``
calls it. A user script that parses a config before importing the package
runs ``import sparse_backbones`` (or this function) first.

This module imports only the standard library and mmengine.
"""
import importlib.metadata
import os.path as osp

from mmengine.config.utils import MODULE2PACKAGE

__all__ = [
    'PACKAGE', 'register_config_package', 'package_dir', 'shipped_config'
]

PACKAGE = 'sparse_backbones'


def package_dir() -> str:
    """The directory of the imported ``sparse_backbones`` package."""
    return osp.dirname(osp.dirname(osp.abspath(__file__)))


def shipped_config(relative: str) -> str:
    """The path of a config that ships with the package, wherever the
    command runs from: ``.mim/configs/<relative>`` of an installed package,
    else ``configs/<relative>`` of the repository the package sits in.

    Args:
        relative (str): Path under ``configs/``, e.g.
            ``'_base_/datasets/aid_train20.py'``.

    Returns:
        str: The path (it may not exist: nothing ships under that name).
    """
    installed = osp.join(package_dir(), '.mim', 'configs', relative)
    if osp.exists(installed):
        return installed
    return osp.join(osp.dirname(package_dir()), 'configs', relative)


def _installed_name() -> str:
    """What ``get_installed_path`` must be given to return :func:`package_dir`.

    ``get_installed_path(name)`` returns ``<distribution location>/<name>``
    when a distribution ``name`` is installed, else the directory of
    ``importlib.util.find_spec(name).origin``. The first is right for a
    wheel and for a ``setup.py develop`` editable install (whose location
    is the repository), the second when the package is only on
    ``sys.path``. A PEP 660 editable install locates the distribution in
    ``site-packages``, which has no ``sparse_backbones`` folder; nor does a
    wheel's location hold the package when another copy shadows it on
    ``sys.path``. Then the name of a module inside the package, which no
    distribution has, sends mmengine through ``find_spec`` to the package
    that is imported.
    """
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return PACKAGE
    candidate = osp.join(str(dist.locate_file('')), PACKAGE)
    if osp.isdir(candidate) and osp.samefile(candidate, package_dir()):
        return PACKAGE
    return f'{PACKAGE}.version'


def register_config_package() -> str:
    """Let mmengine resolve ``sparse_backbones::<task>/<config>.py``.

    Adds ``sparse_backbones`` to mmengine's ``MODULE2PACKAGE`` (an entry
    already there is kept). Idempotent.

    Returns:
        str: The name mmengine will look the package up by.
    """
    if PACKAGE not in MODULE2PACKAGE:
        MODULE2PACKAGE[PACKAGE] = _installed_name()
    return MODULE2PACKAGE[PACKAGE]
