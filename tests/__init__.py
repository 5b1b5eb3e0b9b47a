# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Tests, one folder per subject: a subpackage of sparse_backbones
(``test_layers`` ... ``test_visualization``), ``tools/`` (``test_tools``),
``configs/`` (``test_configs``) and the package as a whole
(``test_package``)."""
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
REPO_ROOT = str(REPO)


def load_tool(relative: str, name: Optional[str] = None) -> ModuleType:
    """Import a script of ``tools/`` (e.g. ``'dataset_converters/dota.py'``),
    which is not a package, as a module.

    It is registered in ``sys.modules`` under ``name`` (default: from its
    path), so that worker processes can unpickle its functions, and loaded
    once: a second load returns the same module, whose functions are still
    the ones registered (a fresh copy would make pickling the first copy's
    functions fail). A test that patches its own copy passes a name of its
    own. ``tools/`` is on ``sys.path`` while it imports, for the scripts'
    ``from _common import``.
    """
    if name is None:
        name = '_tool_' + relative[:-len('.py')].replace('/', '_')
    if name in sys.modules:
        return sys.modules[name]
    tools = str(REPO / 'tools')
    sys.path.insert(0, tools)
    try:
        spec = importlib.util.spec_from_file_location(
            name, REPO / 'tools' / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(tools)
    return module
