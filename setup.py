# Copyright (c) sparse_backbones contributors. All rights reserved.
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

REPO_ROOT = osp.dirname(osp.abspath(__file__))
# What mmengine reads for `sparse_backbones::<task>/<config>.py` configs
# (sparse_backbones/utils/mim.py): sparse_backbones/.mim/model-index.yml
# and sparse_backbones/.mim/configs/, as the hosts ship theirs.
MIM_FILES = ('configs', 'model-index.yml')


def read_requirements(name):
    """The requirement lines of requirements/<name>, with the files it
    includes (``-r other.txt``) read in their place."""
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        lines = [line.split('#')[0].strip() for line in f]
    requirements = []
    for line in filter(None, lines):
        if line.startswith('-r '):
            requirements += read_requirements(line[3:].strip())
        else:
            requirements.append(line)
    return requirements


def link_mim_files():
    """Editable installs: sparse_backbones/.mim/{configs,model-index.yml}
    become relative symlinks to the repository's own (git-ignored), so an
    edited config is what ``sparse_backbones::`` loads."""
    mim_dir = osp.join(REPO_ROOT, 'sparse_backbones', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        target = osp.join(mim_dir, name)
        if osp.islink(target) or osp.isfile(target):
            os.remove(target)
        elif osp.isdir(target):
            shutil.rmtree(target)
        os.symlink(osp.relpath(osp.join(REPO_ROOT, name), mim_dir), target)


class BuildPyWithMim(build_py):
    """Wheels and non-editable installs: copy configs/ and model-index.yml
    into the built package's .mim/ (the source tree is left alone)."""

    def run(self):
        super().run()
        mim_dir = osp.join(self.build_lib, 'sparse_backbones', '.mim')
        for name in MIM_FILES:
            source = osp.join(REPO_ROOT, name)
            target = osp.join(mim_dir, name)
            if osp.islink(target) or osp.isfile(target):
                os.remove(target)
            elif osp.isdir(target):
                shutil.rmtree(target)
            os.makedirs(mim_dir, exist_ok=True)
            if osp.isdir(source):
                shutil.copytree(
                    source,
                    target,
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
            else:
                shutil.copyfile(source, target)


def read_version():
    namespace = {}
    with open(osp.join('sparse_backbones', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


# `pip install -e .` runs `setup.py develop` (no pyproject.toml) or, under
# PEP 660, `editable_wheel`.
if {'develop', 'editable_wheel'} & set(sys.argv):
    link_mim_files()

setup(
    name='sparse_backbones',
    version=read_version(),
    description='Efficient vision-transformer backbones (LeMeViT, DGE, LTM, '
    'LIT) for mmpretrain, mmdet and mmsegmentation',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    package_data={'sparse_backbones.benchmark': ['*.yml']},
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        # One stack per environment: README, "Dependency stacks".
        'openmmlab': read_requirements('mminstall.txt'),
        'onedl': read_requirements('mminstall-onedl.txt'),
        'tests': read_requirements('tests.txt'),
        'deploy': read_requirements('deploy.txt'),
    },
    license='Apache License 2.0',
    cmdclass={'build_py': BuildPyWithMim},
    zip_safe=False,
)
