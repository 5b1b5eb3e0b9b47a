# Copyright (c) sparse_backbones contributors. All rights reserved.
import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    namespace = {}
    with open(osp.join('sparse_backbones', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


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
        'mm': read_requirements('mminstall.txt'),
        'tests': read_requirements('tests.txt'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
