# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Subpackages import only from lower levels of the package.

Every module of ``sparse_backbones`` is parsed with :mod:`ast`; each import
of the package (absolute or relative, at module level or inside a function,
and ``importlib.import_module('sparse_backbones....')``) is resolved to the
top-level unit it reaches and checked against :data:`LEVELS`. A unit may
import itself and units of a strictly lower level. The table is also in the
docstring of ``sparse_backbones/__init__.py``.
"""
import ast
import os
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from tests import REPO_ROOT

PACKAGE = 'sparse_backbones'
ROOT = osp.join(REPO_ROOT, PACKAGE)
# The package itself: its __init__ imports every subpackage for registration.
TOP = ''

LEVELS = {
    # Foundations: import nothing of the package.
    'version': 0,
    'registry': 0,
    'utils': 0,
    # One implementation of each primitive.
    'layers': 1,
    # Upstream checkpoint layouts -> ours (use the layers' key layouts).
    'converters': 2,
    # The backbones (use layers; convert upstream checkpoints on load).
    'backbones': 3,
    # What host models and metrics are built from.
    'datasets': 4,
    'losses': 4,
    # Host glue: models, hooks/optimizers, metrics (read datasets' labels).
    'models': 5,
    'engine': 5,
    'evaluation': 5,
    # Applications of all the above.
    'visualization': 6,
    'benchmark': 6,
    'demo': 6,
    TOP: 7,
}


def _modules() -> Iterator[Tuple[str, str, bool]]:
    """Yield ``(path, dotted module name, is_package)`` of every module."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(('.', '__')))
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = osp.join(folder, name)
            parts = osp.relpath(path, osp.dirname(ROOT))[:-3].split(os.sep)
            is_package = parts[-1] == '__init__'
            if is_package:
                parts = parts[:-1]
            yield path, '.'.join(parts), is_package


def _is_subpackage_or_module(dotted: str) -> bool:
    parts = dotted.split('.')[1:]
    path = osp.join(ROOT, *parts)
    return osp.isdir(path) or osp.isfile(path + '.py')


def unit_of(dotted: str) -> Optional[str]:
    """Top-level unit of ``sparse_backbones.x.y`` (``x``), TOP for the
    package itself, None outside the package."""
    parts = dotted.split('.')
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else TOP


def _resolve_relative(module: str, is_package: bool, level: int,
                      name: Optional[str]) -> str:
    base = module.split('.')
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[:len(base) - (level - 1)]
    return '.'.join(base + ([name] if name else []))


def imported_modules(tree: ast.AST, module: str,
                     is_package: bool) -> Iterator[Tuple[int, str]]:
    """``(line, dotted name)`` of every package import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = _resolve_relative(module, is_package, node.level,
                                           node.module)
            else:
                target = node.module or ''
            if target == PACKAGE:
                # ``from sparse_backbones import backbones`` reaches the
                # subpackage; ``from sparse_backbones import x`` (a name of
                # the package's __init__) reaches the package itself.
                for alias in node.names:
                    sub = f'{PACKAGE}.{alias.name}'
                    yield node.lineno, (sub if _is_subpackage_or_module(sub)
                                        else PACKAGE)
            else:
                yield node.lineno, target
        elif isinstance(node, ast.Call) and node.args \
                and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(
                func, 'id', None)
            if name == 'import_module' and node.args[0].value.startswith(
                    PACKAGE):
                yield node.lineno, node.args[0].value


def upward_imports() -> List[str]:
    problems = []
    for path, module, is_package in _modules():
        own = unit_of(module)
        assert own in LEVELS, (
            f'{path}: top-level unit {own!r} has no level; add it to LEVELS '
            'here and to the table in sparse_backbones/__init__.py')
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
        for line, target in imported_modules(tree, module, is_package):
            unit = unit_of(target)
            if unit is None or unit == own:
                continue
            assert unit in LEVELS, f'{path}:{line}: unknown unit {target}'
            if LEVELS[unit] >= LEVELS[own]:
                rel = osp.relpath(path, osp.dirname(ROOT))
                problems.append(
                    f'{rel}:{line}: {own or PACKAGE} (level {LEVELS[own]}) '
                    f'imports {target} ({unit or PACKAGE}, level '
                    f'{LEVELS[unit]})')
    return problems


def test_every_unit_has_a_level():
    units = {unit_of(module) for _, module, _ in _modules()}
    assert units <= set(LEVELS), sorted(units - set(LEVELS))


def test_no_upward_imports():
    problems = upward_imports()
    assert not problems, ('imports from the same or a higher level:\n' +
                          '\n'.join(problems))


def test_checker_sees_relative_and_nested_imports():
    """The resolver handles the forms the package uses (guards against a
    checker that passes because it sees nothing)."""
    code = ('from ..backbones import X\n'
            'def f():\n'
            '    from .. import models\n'
            '    import sparse_backbones.engine.ib_hook\n'
            '    importlib.import_module("sparse_backbones.demo")\n'
            'from . import safe_load\n'
            'from sparse_backbones import enable_safe_checkpoint_loading\n')
    found = [
        target for _, target in imported_modules(
            ast.parse(code), 'sparse_backbones.utils.config', False)
    ]
    assert sorted(found) == sorted([
        'sparse_backbones.backbones', 'sparse_backbones.models',
        'sparse_backbones.engine.ib_hook', 'sparse_backbones.demo',
        'sparse_backbones.utils', 'sparse_backbones'
    ])
    assert {unit_of(target) for target in found} == {
        'backbones', 'models', 'engine', 'demo', 'utils', TOP
    }
    package_init = [
        target for _, target in imported_modules(
            ast.parse('from .datasets._common import x\n'),
            'sparse_backbones.evaluation', True)
    ]
    assert package_init == ['sparse_backbones.evaluation.datasets._common']
