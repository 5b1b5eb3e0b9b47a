# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Helpers shared by ``tools/train.py`` and ``tools/test.py``.

Not a public API: the two scripts import it from their own directory, which
Python puts first on ``sys.path`` when it runs a script.
"""
import argparse
import datetime
import json
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import sparse_backbones  # noqa: F401  (registers all modules)
from sparse_backbones.demo import prepare_demo
from sparse_backbones.engine import ATOMIC_BACKEND
from sparse_backbones.models import sync_in_channels
from sparse_backbones.utils.safe_load import enable_safe_checkpoint_loading

# Wrappers whose ``dataset``/``datasets`` field holds the real dataset cfg.
_WRAPPER_KEYS = ('dataset', 'datasets')
# Dataset fields that name files or folders, relative to ``data_root``.
_PATH_KEYS = ('ann_file', 'data_prefix')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments that train.py and test.py share with the hosts'.

    Args:
        parser (argparse.ArgumentParser): Parser to extend.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs merged '
        'into it after --demo, e.g. train_cfg.max_epochs=1 '
        'model.backbone.arch=small; a list value is written key="[a,b]", '
        'without spaces')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (pytorch: under torchrun)')
    # torch.distributed.launch passes --local-rank, older versions
    # --local_rank; torchrun passes neither and sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--demo',
        action='store_true',
        help='generate a tiny synthetic dataset in the real format (once, '
        'under data/demo) and shrink the config to run on it in minutes')


def load_config(args: argparse.Namespace) -> Config:
    """Read the config and apply ``--demo``, ``--cfg-options`` and defaults.

    ``--cfg-options`` are merged after ``--demo`` so that they can override
    the shortened demo schedule; ``sync_in_channels`` runs after both so the
    neck and head follow a backbone changed from the command line. Also
    installs the ``weights_only`` allow-list of mmengine checkpoints, which
    resume, ``load_from`` and test.py's checkpoint are loaded under.

    Args:
        args (argparse.Namespace): Parsed arguments of train.py or test.py.

    Returns:
        Config: The config to build the runner from.
    """
    enable_safe_checkpoint_loading()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)

    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.demo:
        cfg = prepare_demo(cfg)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    sync_in_channels(cfg)
    check_param_schedulers(cfg)

    # work_dir: command line, then config, then ./work_dirs/<config stem>.
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    setup_distributed_without_cuda(cfg)
    use_atomic_checkpoints(cfg)
    add_training_hooks(cfg)
    return cfg


def add_training_hooks(cfg: Config) -> None:
    """Add the hooks every training run needs, unless the config has them.

    - mmengine's ``SyncBuffersHook``: the runner's DDP wrapper does not
      broadcast buffers, so every rank would keep its own BatchNorm running
      statistics, rank 0's would be saved and each rank would validate with
      other ones. The hook averages them across ranks after every training
      epoch (iteration-based loops: before every validation); it does
      nothing in a single process.
    - ``ExactResumeHook``: random draws that depend only on the seed and
      the position in training, so a resumed run repeats the uninterrupted
      one.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {str(hook.get('type', '')).split('.')[-1] for hook in hooks}
    for needed in ('SyncBuffersHook', 'sparse_backbones.ExactResumeHook'):
        if needed.split('.')[-1] not in present:
            hooks.append(dict(type=needed))
    cfg.custom_hooks = hooks


def use_atomic_checkpoints(cfg: Config) -> None:
    """Write checkpoints all-or-nothing (``AtomicLocalBackend``): a run
    killed while saving leaves the previous files whole.

    Only where the config chose no file backend and saves locally.
    """
    hook = (cfg.get('default_hooks', None) or {}).get('checkpoint', None)
    if not hook or hook.get('backend_args', None) or \
            '://' in str(hook.get('out_dir', None) or ''):
        return
    hook['backend_args'] = dict(backend=ATOMIC_BACKEND)


def check_param_schedulers(cfg: Config) -> None:
    """Refuse a schedule whose steps cannot run, naming the setting.

    mmengine only says "end should be larger than begin" from inside the
    scheduler; the usual cause is a ``train_cfg.max_epochs`` (or
    ``max_iters``) shortened to the warm-up's length or less.

    Raises:
        ValueError: A scheduler would end where it begins or earlier.
    """
    train_cfg = cfg.get('train_cfg', None) or {}
    schedulers = cfg.get('param_scheduler', None) or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for index, scheduler in enumerate(schedulers):
        by_epoch = scheduler.get('by_epoch', True)
        length_key = 'max_epochs' if by_epoch else 'max_iters'
        unit = 'epoch' if by_epoch else 'iteration'
        length = train_cfg.get(length_key, None)
        begin = scheduler.get('begin', 0)
        end = scheduler.get('end', length)
        if end is None or end > begin:
            continue
        raise ValueError(
            f'param_scheduler[{index}] ({scheduler.get("type")}) would run '
            f'from {unit} {begin} to {end}, which is no step at all: '
            f'train_cfg.{length_key}={length} leaves nothing after the '
            f'schedulers before it (e.g. a warm-up ending at {unit} '
            f'{begin}). Raise train_cfg.{length_key}, or shorten the '
            f'warm-up: --cfg-options param_scheduler.{max(index - 1, 0)}.end=N'
            f' param_scheduler.{index}.begin=N with N < {length}.')


def setup_distributed_without_cuda(cfg: Config) -> None:
    """Make a distributed launch work on a machine without CUDA.

    mmengine 0.10.7 assumes GPUs in two places: its launchers call
    ``torch.cuda.set_device`` unconditionally and ``Runner.wrap_model``
    gives DDP ``device_ids=[LOCAL_RANK]``, which torch rejects for a CPU
    model. Without CUDA this switches the backend to gloo, initialises the
    env:// process group that mmengine's pytorch launcher would (torchrun
    sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; the Runner then
    finds the group initialised and keeps it) and wraps the model in
    ``MMDistributedDataParallel`` without ``device_ids``.

    Args:
        cfg (Config): Config with ``launcher`` set; modified in place.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {cfg.launcher} needs CUDA devices: mmengine 0.10.7 '
            'calls torch.cuda.set_device in it. On CPU, launch with '
            'torchrun (tools/dist_train.sh) and --launcher pytorch.')
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'

    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = ConfigDict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper_cfg = cfg.model_wrapper_cfg
    if wrapper_cfg.get('type') == 'MMDistributedDataParallel':
        wrapper_cfg['device_ids'] = None

    if not torch_dist.is_initialized():
        kwargs = {}
        if dist_cfg.get('timeout') is not None:
            # mmengine's dist_cfg gives seconds, torch wants a timedelta.
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
        torch_dist.init_process_group(backend='gloo', **kwargs)


def _dataset_cfgs(dataset_cfg: Any,
                  key: str) -> Iterator[Tuple[str, ConfigDict]]:
    """Yield ``(dotted key, cfg)`` of the datasets inside wrappers."""
    if isinstance(dataset_cfg, (list, tuple)):
        for i, sub_cfg in enumerate(dataset_cfg):
            yield from _dataset_cfgs(sub_cfg, f'{key}[{i}]')
        return
    if not isinstance(dataset_cfg, dict):
        return
    wrapped = False
    for wrapper_key in _WRAPPER_KEYS:
        if wrapper_key in dataset_cfg:
            wrapped = True
            yield from _dataset_cfgs(dataset_cfg[wrapper_key],
                                     f'{key}.{wrapper_key}')
    if not wrapped:
        yield key, dataset_cfg


def _is_local(path: str) -> bool:
    return '://' not in path


def _missing_dataset_path(dataset_cfg: dict,
                          key: str) -> Optional[Tuple[str, str]]:
    """Return ``(dotted key, path)`` of the first missing local path."""
    data_root = dataset_cfg.get('data_root') or ''
    if data_root and _is_local(data_root) and not osp.exists(data_root):
        return f'{key}.data_root', data_root
    for path_key in _PATH_KEYS:
        value = dataset_cfg.get(path_key)
        items = value.items() if isinstance(value, dict) else [('', value)]
        for sub_key, rel_path in items:
            if not isinstance(rel_path, str) or not rel_path:
                continue
            path = rel_path if osp.isabs(rel_path) else osp.join(
                data_root, rel_path)
            if _is_local(path) and not osp.exists(path):
                dotted = f'{key}.{path_key}' + (f'.{sub_key}'
                                                if sub_key else '')
                return dotted, path
    return None


def check_dataset_paths(cfg: Config, loader_keys: Sequence[str],
                        config_path: str) -> None:
    """Fail early, and clearly, when a dataset folder or file is missing.

    Without this the error surfaces deep inside the dataset class after the
    model has been built, and does not say which config field to fix.

    Args:
        cfg (Config): The merged config.
        loader_keys (Sequence[str]): Dataloader fields to check, e.g.
            ``('train_dataloader', 'val_dataloader')``.
        config_path (str): Config file, named in the message.

    Raises:
        FileNotFoundError: Naming the field, the path and the ways out.
    """
    for loader_key in loader_keys:
        loader_cfg = cfg.get(loader_key, None)
        if not loader_cfg or 'dataset' not in loader_cfg:
            continue
        for key, dataset_cfg in _dataset_cfgs(loader_cfg['dataset'],
                                              f'{loader_key}.dataset'):
            missing = _missing_dataset_path(dataset_cfg, key)
            if missing is None:
                continue
            field, path = missing
            raise FileNotFoundError(
                f'dataset path not found: {path!r} ({field} of '
                f'{config_path}, relative to {os.getcwd()}). Prepare the '
                'dataset as described in the README of the config folder '
                '(configs/<task>/README.md), point the '
                f'config at it with --cfg-options {field}=PATH, or add '
                '--demo to run on a generated toy dataset.')


def build_runner(cfg: Config) -> Runner:
    """Build the default runner, or ``cfg.runner_type`` from the registry."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


class LastMetricsHook(Hook):
    """Remember the metrics of the latest validation epoch.

    The evaluator broadcasts the metrics, so every rank sees the same dict.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.metrics: Dict[str, Any] = {}
        self.when = ''

    def after_val_epoch(self,
                        runner: Runner,
                        metrics: Optional[Dict[str, Any]] = None) -> None:
        self.metrics = dict(metrics or {})
        if 'max_epochs' in runner.cfg.get('train_cfg', {}):
            self.when = f'epoch {runner.epoch}, iter {runner.iter}'
        else:
            self.when = f'iter {runner.iter}'


def _to_builtin(value: Any) -> Any:
    """JSON fallback for numpy and torch values inside metric dicts."""
    if hasattr(value, 'tolist'):  # numpy arrays/scalars, tensors
        return value.tolist()
    return str(value)


def format_metrics(title: str, metrics: Dict[str, Any]) -> str:
    """Format metrics as a titled block of indented, sorted JSON.

    JSON keeps full float precision, so a test can parse the block back and
    compare the numbers of two runs exactly.
    """
    body = json.dumps(metrics, indent=2, sort_keys=True, default=_to_builtin)
    rule = '=' * 8
    return f'{rule} {title} {rule}\n{body}'


def print_metrics(title: str, metrics: Dict[str, Any]) -> None:
    """Print :func:`format_metrics` on the main process only."""
    if is_main_process():
        print(format_metrics(title, metrics), flush=True)


def existing_file(path: str, what: str) -> str:
    """Return ``path`` or raise a clear error if it is not a file."""
    if _is_local(path) and not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path!r} (relative to '
                                f'{os.getcwd()})')
    return path


__all__: List[str] = [
    'add_common_args', 'load_config', 'setup_distributed_without_cuda',
    'check_dataset_paths', 'build_runner', 'LastMetricsHook', 'format_metrics',
    'print_metrics', 'existing_file'
]
