# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Train a config of sparse_backbones with mmengine's Runner.

The flags follow the train.py of mmpretrain, mmdet and mmseg, so the same
command lines work for the three tasks::

    python tools/train.py configs/cls/lemevit-tiny_8xb64_aid.py --demo
    python tools/train.py CONFIG --resume            # latest in work_dir
    tools/dist_train.sh CONFIG 8 --amp               # torchrun, 8 processes

At the end the metrics of the last validation are printed as JSON.
"""
import argparse
import glob
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import is_main_process
from mmengine.runner import find_latest_checkpoint

from sparse_backbones.utils.checkpoint import check_checkpoint_fits

from _common import (  # isort: skip  (sibling module of this script)
    LastMetricsHook, add_common_args, build_runner, check_dataset_paths,
    existing_file, load_config, print_metrics)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line of train.py.

    Args:
        argv (list[str], optional): Arguments without the program name.
            Defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        description='Train a model with a sparse_backbones backbone')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir',
        help='directory for logs and checkpoints; defaults to the '
        "config's work_dir, else ./work_dirs/<config name>")
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a value from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (AmpOptimWrapper with dynamic loss '
        'scale; needs a GPU)')
    parser.add_argument(
        '--amp-dtype',
        choices=('float16', 'bfloat16'),
        help='the half type of --amp (default: the config\'s, else '
        'float16); bfloat16 needs no loss scale but an Ampere or newer GPU')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size over '
        'auto_scale_lr.base_batch_size of the config')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='train from the start in a work directory that already holds '
        'checkpoints, overwriting them (without it, that is refused)')
    add_common_args(parser)
    return parser.parse_args(argv)


def check_work_dir(work_dir: str, resume: Optional[str],
                   overwrite: bool) -> None:
    """Refuse to train from the start over the checkpoints of another run.

    mmengine would save ``epoch_1.pth`` ... over them and leave the later
    ones of the old run beside the new ones.

    Raises:
        RuntimeError: ``work_dir`` holds checkpoints, and neither
            ``--resume`` nor ``--overwrite`` was given.
    """
    if resume is not None or overwrite or not osp.isdir(work_dir):
        return
    found = sorted(glob.glob(osp.join(work_dir, '*.pth')))
    if found:
        names = ', '.join(osp.basename(f) for f in found[:5])
        raise RuntimeError(
            f'{work_dir} already holds checkpoints ({names}'
            f'{", ..." if len(found) > 5 else ""}) of an earlier run, which '
            f'training from the start would overwrite. Continue that run '
            f'with --resume, pick another --work-dir, or pass --overwrite.')


def merge_train_args(cfg: Config, args: argparse.Namespace) -> None:
    """Apply ``--amp``/``--amp-dtype``, ``--auto-scale-lr`` and ``--resume``
    to ``cfg``.

    Args:
        cfg (Config): Config from :func:`load_config`; modified in place.
        args (argparse.Namespace): Parsed arguments.
    """
    if args.amp:
        if get_device() == 'cpu':
            # AmpOptimWrapper asserts a GPU/NPU/MLU only after the model is
            # built; fail before that, and say why.
            raise RuntimeError(
                '--amp needs a GPU (or NPU/MLU): mmengine AmpOptimWrapper '
                'uses torch.cuda.amp, and no accelerator is visible here. '
                'Train in fp32 on CPU (drop --amp).')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        if args.amp_dtype:
            cfg.optim_wrapper.dtype = args.amp_dtype
    elif args.amp_dtype:
        raise RuntimeError('--amp-dtype chooses the half type of --amp: '
                           'pass --amp too.')

    if args.auto_scale_lr:
        auto_scale_lr = cfg.get('auto_scale_lr', None)
        if not auto_scale_lr or 'base_batch_size' not in auto_scale_lr:
            raise RuntimeError(
                '--auto-scale-lr needs auto_scale_lr=dict(enable=False, '
                'base_batch_size=N) in the config (N: the total batch size '
                "the config's learning rate is meant for).")
        auto_scale_lr.enable = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = existing_file(args.resume, 'resume checkpoint')


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Train, then print and return the metrics of the last validation.

    Args:
        argv (list[str], optional): Command line without the program name.
            Defaults to ``sys.argv[1:]``.

    Returns:
        dict: Metrics of the last validation, empty if none ran.
    """
    args = parse_args(argv)
    cfg = load_config(args)
    merge_train_args(cfg, args)
    check_work_dir(cfg.work_dir, args.resume, args.overwrite)
    check_dataset_paths(cfg, ('train_dataloader', 'val_dataloader'),
                        args.config)

    runner = build_runner(cfg)
    resume_from = cfg.load_from if args.resume != 'auto' else \
        find_latest_checkpoint(cfg.work_dir)
    if args.resume == 'auto' and resume_from is None and is_main_process():
        # mmengine only logs "Auto resumed from ... None" here.
        runner.logger.warning(
            f'--resume: no checkpoint in {cfg.work_dir}, training from '
            'scratch.')
    if args.resume is not None and resume_from is not None:
        # Resuming is exact: a checkpoint of another model is an error here,
        # not "different number of parameter groups" later.
        check_checkpoint_fits(runner.model, resume_from)
    elif cfg.get('load_from', None) and not cfg.get('resume', False):
        # mmengine would only log the mismatch and train from scratch.
        # Fresh modules (a new head) are what the config names.
        check_checkpoint_fits(
            runner.model, cfg.load_from,
            cfg.get('load_from_new_modules', None) or ())
    last_val = LastMetricsHook()
    runner.register_hook(last_val)
    runner.train()

    if last_val.metrics:
        print_metrics(f'final validation metrics ({last_val.when})',
                      last_val.metrics)
    elif is_main_process():
        print('no validation ran (val_cfg/val_dataloader not set)')
    return last_val.metrics


if __name__ == '__main__':
    main()
