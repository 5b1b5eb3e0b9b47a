# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Evaluate a checkpoint of a sparse_backbones config with mmengine's Runner.

The flags follow the test.py of mmpretrain, mmdet and mmseg::

    python tools/test.py configs/cls/lemevit-tiny_8xb64_aid.py \
        work_dirs/x/epoch_1.pth
    python tools/test.py CONFIG CKPT --out preds.pkl --show-dir vis --tta
    tools/dist_test.sh CONFIG CKPT 8
    # files for an evaluation server (e.g. DOTA Task1/Task2 txt files)
    python tools/test.py CONFIG CKPT --format-only --out-dir DIR

The test metrics are printed as JSON at the end, in the same format as the
final validation metrics of ``tools/train.py``.
"""
import argparse
import copy
import inspect
import os.path as osp
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import METRICS, init_default_scope
from mmengine.runner import Runner

from sparse_backbones.backbones import deploy
from sparse_backbones.utils.allocator import keep_freed_memory
from sparse_backbones.utils.checkpoint import check_checkpoint_fits

from _common import (  # isort: skip  (sibling module of this script)
    add_common_args, build_runner, check_dataset_paths, existing_file,
    load_config, print_metrics)

# tta_model of each host when the config has none (as the hosts' test.py).
_DEFAULT_TTA_MODELS = dict(
    mmpretrain=dict(type='mmpretrain.AverageClsScoreTTA'),
    mmdet=dict(
        type='mmdet.DetTTAModel',
        tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                     max_per_img=100)),
    mmseg=dict(type='mmseg.SegTTAModel'))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line of test.py.

    Args:
        argv (list[str], optional): Arguments without the program name.
            Defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='directory for the logs and the metrics json; defaults to the '
        "config's work_dir, else ./work_dirs/<config name>")
    parser.add_argument(
        '--out',
        help='dump the predictions: a .pkl file (classification, '
        'detection) or a directory of label maps (segmentation)')
    parser.add_argument(
        '--show-dir',
        help='save images painted with the predictions in this directory')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: tta_model/tta_pipeline of the '
        'config, else horizontal-flip averaging')
    parser.add_argument(
        '--format-only',
        action='store_true',
        help='write the result files of an evaluation server to --out-dir '
        'instead of scoring: with the submission_dataloader/'
        'submission_evaluator of the config when it has them (DOTA: the '
        'test split and Task1/Task2 txt files), else the test split with '
        'the format_only mode of its metric')
    parser.add_argument(
        '--out-dir', help='folder of the --format-only result files')
    parser.add_argument(
        '--no-deploy',
        action='store_true',
        help="evaluate the reference layers instead of switch_to_deploy()'s "
        'fused inference layers (the default; equal outputs, faster)')
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.format_only != bool(args.out_dir):
        parser.error('--format-only and --out-dir go together')
    return args


def _host(cfg: Config) -> str:
    return cfg.get('default_scope', None) or 'mmengine'


def enable_visualization(cfg: Config, show_dir: str) -> None:
    """Turn on the visualization hook of the host to save painted images.

    Args:
        cfg (Config): Config; modified in place.
        show_dir (str): Output directory (mmdet puts it under
            ``work_dir/<timestamp>/``, as its own test.py does).
    """
    hook_cfg = cfg.get('default_hooks', {}).get('visualization', None)
    if hook_cfg is None:
        raise RuntimeError(
            '--show-dir needs default_hooks.visualization in the config, '
            "e.g. visualization=dict(type='DetVisualizationHook').")
    hook_type = hook_cfg['type'].split('.')[-1]
    if hook_type == 'VisualizationHook':  # mmpretrain
        hook_cfg.update(enable=True, out_dir=show_dir, interval=1)
    elif hook_type == 'DetVisualizationHook':
        hook_cfg.update(draw=True, test_out_dir=show_dir)
    elif hook_type == 'SegVisualizationHook':
        hook_cfg.update(draw=True, interval=1)
        cfg.visualizer['save_dir'] = show_dir
    else:
        raise RuntimeError(f'--show-dir: unknown visualization hook '
                           f'{hook_cfg["type"]!r}')


def enable_tta(cfg: Config) -> None:
    """Wrap the model and the test pipeline for test-time augmentation.

    Without ``tta_pipeline`` in the config, the test pipeline runs twice,
    unflipped then horizontally flipped, before its packing step; the host's
    TTA model merges the two predictions (un-flipping boxes and label maps).

    Args:
        cfg (Config): Config; modified in place.
    """
    dataset_cfg = cfg.test_dataloader.dataset
    while 'dataset' in dataset_cfg:  # dataset wrappers
        dataset_cfg = dataset_cfg['dataset']
    if 'tta_model' not in cfg:
        host = _host(cfg)
        if host not in _DEFAULT_TTA_MODELS:
            raise RuntimeError(f'--tta: no tta_model in the config and no '
                               f'default for default_scope={host!r}')
        cfg.tta_model = copy.deepcopy(_DEFAULT_TTA_MODELS[host])
    if 'tta_pipeline' not in cfg:
        pipeline = copy.deepcopy(dataset_cfg.pipeline)
        pack = pipeline[-1]
        meta_keys = pack.get('meta_keys', None)
        if meta_keys is not None:
            # The TTA model needs the flip flags to undo the flip.
            extra = [
                k for k in ('flip', 'flip_direction') if k not in meta_keys
            ]
            pack['meta_keys'] = tuple(meta_keys) + tuple(extra)
        pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [pack]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset_cfg.pipeline = cfg.tta_pipeline


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def enable_format_only(cfg: Config, out_dir: str, demo: bool) -> None:
    """Switch the test run to writing result files for a server.

    A config may name what a submission runs on: ``submission_dataloader``
    (e.g. the DOTA test split, whose labels are withheld) replaces
    ``test_dataloader``, except with ``--demo``, whose generated val patches
    stand in for it; ``submission_evaluator`` replaces ``test_evaluator``.
    Each evaluator is then put in its ``format_only`` mode and told to
    write into ``out_dir`` (``outfile_prefix`` for DOTAMetric, a folder;
    ``<out_dir>/results`` for mmdet's file-prefix metrics; ``output_dir``
    for mmseg's).

    Args:
        cfg (Config): Config; modified in place.
        out_dir (str): Folder of the result files.
        demo (bool): Whether ``--demo`` pointed the loaders at demo data.

    Raises:
        RuntimeError: A metric has no ``format_only`` mode.
    """
    if 'submission_dataloader' in cfg and not demo:
        cfg.test_dataloader = cfg.submission_dataloader
    evaluators = _as_list(
        cfg.get('submission_evaluator', None) or cfg.test_evaluator)
    init_default_scope(cfg.get('default_scope', None) or 'mmengine')
    for evaluator in evaluators:
        metric_cls = METRICS.get(evaluator['type'])
        params = inspect.signature(metric_cls).parameters \
            if metric_cls is not None else {}
        if 'format_only' not in params:
            raise RuntimeError(
                f'--format-only: the metric {evaluator["type"]!r} of the '
                'config has no format_only mode. Add a '
                'submission_evaluator to the config (see '
                'configs/_base_/datasets/dota.py).')
        evaluator['format_only'] = True
        if metric_cls.__name__ == 'DOTAMetric':
            evaluator['outfile_prefix'] = out_dir
        elif 'outfile_prefix' in params:
            evaluator['outfile_prefix'] = osp.join(out_dir, 'results')
        elif 'output_dir' in params:
            evaluator['output_dir'] = out_dir
    cfg.test_evaluator = evaluators


def dump_segmentation_maps(cfg: Config, out: str) -> None:
    """Make mmseg's IoUMetric write one label-map png per image to ``out``.

    Set in the config rather than on the built metric, because IoUMetric
    creates the directory in its constructor.

    Args:
        cfg (Config): Config with an mmseg ``test_evaluator``; modified in
            place.
        out (str): Output directory.
    """
    evaluators = cfg.test_evaluator
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    for evaluator in evaluators:
        evaluator.update(output_dir=out, keep_results=True)


def add_prediction_dump(runner: Runner, cfg: Config, out: str) -> None:
    """Append a metric that pickles the predictions to ``out``.

    Args:
        runner (Runner): The built runner.
        cfg (Config): Its config (only ``default_scope`` is read).
        out (str): A .pkl/.pickle file.
    """
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl/.pickle file, got {out!r}')
    if _host(cfg) == 'mmdet':
        # Encodes masks as RLE, like mmdet's own test.py.
        from mmdet.evaluation import DumpDetResults
        dump = DumpDetResults(out_file_path=out)
    else:
        from mmengine.evaluator import DumpResults
        dump = DumpResults(out_file_path=out)
    runner.test_evaluator.metrics.append(dump)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Evaluate the checkpoint, then print and return the test metrics.

    Args:
        argv (list[str], optional): Command line without the program name.
            Defaults to ``sys.argv[1:]``.

    Returns:
        dict: The test metrics.
    """
    args = parse_args(argv)
    if not torch.cuda.is_available():
        keep_freed_memory()  # CPU inference speed; see its docstring
    cfg = load_config(args)
    cfg.load_from = existing_file(args.checkpoint, 'checkpoint')
    if args.show_dir:
        if args.tta and _host(cfg) == 'mmpretrain':
            # mmpretrain's VisualizationHook draws data_batch['inputs'],
            # which TTA turns into one list per augmentation.
            raise RuntimeError('--show-dir cannot be combined with --tta for '
                               'classification; run them separately.')
        enable_visualization(cfg, args.show_dir)
    if args.format_only:
        # Before TTA, which wraps the pipeline of the loader it finds.
        enable_format_only(cfg, args.out_dir, args.demo)
    if args.tta:
        enable_tta(cfg)
    if args.out and _host(cfg) == 'mmseg':
        dump_segmentation_maps(cfg, args.out)
    check_dataset_paths(cfg, ('test_dataloader', ), args.config)

    runner = build_runner(cfg)
    # mmengine would only log a mismatch and report a random model's metrics.
    check_checkpoint_fits(runner.model, cfg.load_from)
    if args.out and _host(cfg) != 'mmseg':
        add_prediction_dump(runner, cfg, args.out)
    if not args.no_deploy:
        # Load first (runner.test() then skips it): the switch folds weights.
        runner.load_or_resume()
        deploy(runner.model)
        runner.logger.info('Backbones switched to deploy (fused inference '
                           'layers); --no-deploy runs the reference layers.')
    metrics = runner.test()
    print_metrics('test metrics', metrics)
    return metrics


if __name__ == '__main__':
    main()
