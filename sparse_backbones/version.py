__version__ = '0.1.0'

# torch.load defaults to weights_only=True from 2.6 on, and mmengine 0.10
# calls it without the argument: on older torch every mmengine load path
# (load_from, resume, tools/test.py) would unpickle arbitrary code.
MIN_TORCH = (2, 6)


def _major_minor(version: str) -> tuple:
    """``(major, minor)`` of a version string such as ``'2.14.1+cu130'``."""
    return tuple(
        int(part) for part in version.split('+')[0].split('.')[:2]
        if part.isdigit())


def check_torch_version(version: str) -> None:
    """Refuse a torch older than :data:`MIN_TORCH`, saying why.

    Args:
        version (str): ``torch.__version__``, e.g. ``'2.14.1+cu130'``.

    Raises:
        ImportError: The version is older.
    """
    release = _major_minor(version)
    if release < MIN_TORCH:
        minimum = '.'.join(map(str, MIN_TORCH))
        raise ImportError(
            f'sparse_backbones needs torch >= {minimum}, found {version}: '
            f'older torch loads checkpoints with weights_only=False by '
            f'default, so any checkpoint could run code on load. Upgrade '
            f'torch (and build mmcv against it).')


# mmengine is checked here rather than in install_requires: the original
# releases and the maintained fork publish it under different distribution
# names (requirements/runtime.txt).
MMENGINE_RANGE = ((0, 10), (1, 0))  # minimum, first unsupported


def check_mmengine_version(version: str) -> None:
    """Refuse an mmengine outside :data:`MMENGINE_RANGE`, saying which
    stacks provide a supported one.

    Args:
        version (str): ``mmengine.__version__``, e.g. ``'0.10.7'``.

    Raises:
        ImportError: The version is outside the range.
    """
    release = _major_minor(version)
    minimum, first_unsupported = MMENGINE_RANGE
    if not minimum <= release < first_unsupported:
        raise ImportError(
            f'sparse_backbones needs mmengine >= '
            f'{".".join(map(str, minimum))}, < '
            f'{".".join(map(str, first_unsupported))}; found {version}. '
            'Install one stack (README, "Dependency stacks"): '
            '`pip install "sparse_backbones[onedl]"` (the maintained fork) '
            'or `pip install "sparse_backbones[openmmlab]"`, never both in '
            'one environment.')
