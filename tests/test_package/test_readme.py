# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The README's commands refer to things that exist and work."""
import os.path as osp
import re
import subprocess
import sys

from sparse_backbones import __version__


def readme(repo_root):
    with open(osp.join(repo_root, 'README.md')) as f:
        return f.read()


def code_lines(text):
    blocks = re.findall(r'```(?:bash)?\n(.*?)```', text, flags=re.S)
    return [line for block in blocks for line in block.splitlines()]


def test_every_script_and_config_in_readme_exists(repo_root):
    text = readme(repo_root)
    # Repo-relative paths only (not e.g. mmseg's `.mim/tools/...`).
    paths = set(
        re.findall(r'(?<![\w/.])((?:tools|configs)/[\w/.-]+\.(?:py|sh))',
                   text))
    assert paths, 'README names no tool or config'
    missing = [p for p in sorted(paths)
               if not osp.exists(osp.join(repo_root, p))]
    assert not missing


def test_every_make_target_in_readme_exists(repo_root):
    with open(osp.join(repo_root, 'Makefile')) as f:
        targets = set(re.findall(r'^([\w-]+):', f.read(), flags=re.M))
    used = set()
    for line in code_lines(readme(repo_root)):
        used.update(re.findall(r'\bmake ([\w-]+)', line))
    assert {'demo', 'test'} <= used
    assert used <= targets


def test_install_into_existing_environment_touches_nothing(repo_root):
    """`pip install --no-build-isolation -e .` (README) adds only us."""
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run',
         '--no-build-isolation', '-e', repo_root],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    would = re.search(r'^Would install (.*)$', result.stdout, flags=re.M)
    assert would, result.stdout[-2000:]
    assert would.group(1).split() == [f'sparse_backbones-{__version__}']
