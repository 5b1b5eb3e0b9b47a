# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Result tables from the work directories of test runs.

``tools/test.py`` (mmengine's Runner) leaves in its work directory:

- ``<work_dir>/<config name>.py``: the config, dumped at every run;
- ``<work_dir>/<timestamp>/<timestamp>.json``: the test metrics (one JSON
  object, with the run's ``time`` and ``data_time``);
- ``<work_dir>/<timestamp>/vis_data/config.py``: the config of that run.

A training run writes ``<timestamp>/vis_data/<timestamp>.json`` instead, one
JSON object per line, validation lines carrying the metrics. The latest test
run of each work directory is read (with ``include_val``, the last
validation of the latest training run where no test run exists), and the
rows are grouped by the test dataset.
"""
import dataclasses
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from .metafile import (backbone_complexity, backbone_name, dataset_type,
                       task_from_scope)

# Keys of mmengine's log lines that are not metrics.
NOT_METRICS = {
    'time', 'data_time', 'step', 'epoch', 'iter', 'lr', 'base_lr', 'memory',
    'grad_norm', 'loss'
}


@dataclasses.dataclass
class RunResult:
    """The metrics of one work directory.

    Args:
        work_dir: The work directory.
        config_name: Stem of the config file the run was started with.
        config_file: The config as the run saved it.
        task: ``cls``, ``det`` or ``seg`` (from ``default_scope``).
        dataset: Test dataset class, e.g. ``DOTADataset``.
        backbone: Backbone class and arch, e.g. ``LeMeViT tiny``.
        metrics: Metric name -> value.
        source: ``'test'`` or ``'val'``.
        timestamp: The run's timestamp folder.
        checkpoint: ``load_from`` of a test run.
        params: Backbone parameters.
        macs: Backbone multiply-adds per image at ``input_size``.
        input_size: [H, W].
    """
    work_dir: str
    config_name: str
    config_file: str
    task: Optional[str]
    dataset: str
    backbone: str
    metrics: Dict[str, float]
    source: str
    timestamp: str
    checkpoint: Optional[str] = None
    params: Optional[int] = None
    macs: Optional[int] = None
    input_size: Optional[List[int]] = None


def _is_metric(key: str, value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and key not in NOT_METRICS and not key.startswith('loss'))


def _metrics(record: dict) -> Dict[str, float]:
    return {k: v for k, v in record.items() if _is_metric(k, v)}


def _config_name(work_dir: str) -> Optional[str]:
    """Stem of the config mmengine dumped into ``work_dir``."""
    dumped = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if not dumped:
        return None
    stems = [osp.splitext(osp.basename(p))[0] for p in dumped]
    own = osp.basename(osp.normpath(work_dir))
    return own if own in stems else stems[0]


def _latest_test_run(work_dir: str) -> Optional[tuple]:
    for run_dir in sorted(
            glob.glob(osp.join(work_dir, '*', '')), reverse=True):
        timestamp = osp.basename(osp.normpath(run_dir))
        path = osp.join(run_dir, f'{timestamp}.json')
        if osp.isfile(path):
            with open(path) as f:
                return timestamp, _metrics(json.load(f))
    return None


def _latest_validation(work_dir: str) -> Optional[tuple]:
    for run_dir in sorted(
            glob.glob(osp.join(work_dir, '*', '')), reverse=True):
        timestamp = osp.basename(osp.normpath(run_dir))
        path = osp.join(run_dir, 'vis_data', f'{timestamp}.json')
        if not osp.isfile(path):
            continue
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        validations = [
            _metrics(r) for r in records
            if 'lr' not in r and not any(k.startswith('loss') for k in r)
        ]
        validations = [v for v in validations if v]
        if validations:
            return timestamp, validations[-1]
    return None


def read_work_dir(work_dir: str,
                  include_val: bool = False,
                  with_complexity: bool = True,
                  cache: Optional[dict] = None) -> Optional[RunResult]:
    """The latest test result of ``work_dir``; None if it has none.

    Args:
        work_dir: A work directory of tools/test.py or tools/train.py.
        include_val: Fall back on the last validation of a training run.
        with_complexity: Build the backbone to count params and MACs.
        cache: Reused by :func:`backbone_complexity` across directories.

    Raises:
        FileNotFoundError: if ``work_dir`` is not a directory, or a run has
            no saved config.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir} is not a directory')
    found, source = _latest_test_run(work_dir), 'test'
    if found is None and include_val:
        found, source = _latest_validation(work_dir), 'val'
    if found is None:
        return None
    timestamp, metrics = found
    config_file = osp.join(work_dir, timestamp, 'vis_data', 'config.py')
    config_name = _config_name(work_dir)
    if not osp.isfile(config_file):
        if config_name is None:
            raise FileNotFoundError(
                f'{work_dir}: no config saved by the run ({config_file}) and '
                'none dumped in the work directory')
        config_file = osp.join(work_dir, f'{config_name}.py')
    cfg = Config.fromfile(config_file)
    task = task_from_scope(cfg)
    type_name, arch = backbone_name(cfg.model.backbone)
    result = RunResult(
        work_dir=work_dir,
        config_name=config_name or osp.basename(osp.normpath(work_dir)),
        config_file=config_file,
        task=task,
        dataset=dataset_type(cfg) or 'unknown',
        backbone=type_name + (f' {arch}' if arch else ''),
        metrics=metrics,
        source=source,
        timestamp=timestamp,
        checkpoint=cfg.get('load_from') if source == 'test' else None)
    if with_complexity and task is not None:
        figures = backbone_complexity(cfg, task, cache)
        result.params = figures['params']
        result.macs = figures['macs']
        result.input_size = figures['input_size']
    return result


def collect(work_dirs: Sequence[str],
            include_val: bool = False,
            with_complexity: bool = True) -> List[RunResult]:
    """:func:`read_work_dir` over ``work_dirs``, skipping those without
    results."""
    cache: dict = {}
    results = []
    for work_dir in work_dirs:
        result = read_work_dir(work_dir, include_val, with_complexity, cache)
        if result is not None:
            results.append(result)
    return results


def _format_metric(value: float) -> str:
    return f'{value:.4g}'


def config_link(result: RunResult, repo_root: str) -> str:
    """A Markdown link to the config under ``configs/`` of the same name,
    else the saved config's path."""
    matches = sorted(
        glob.glob(
            osp.join(repo_root, 'configs', '**', f'{result.config_name}.py'),
            recursive=True))
    if matches:
        relative = osp.relpath(matches[0], repo_root)
        return f'[{result.config_name}]({relative})'
    return f'`{result.config_file}`'


def tables(results: Sequence[RunResult], repo_root: str) -> str:
    """One Markdown table per dataset: backbone, params, MACs, metrics,
    config link (and which split the metrics come from)."""
    by_dataset: Dict[str, List[RunResult]] = {}
    for result in results:
        by_dataset.setdefault(result.dataset, []).append(result)
    parts = []
    for dataset, rows in sorted(by_dataset.items()):
        metric_names = sorted({k for r in rows for k in r.metrics})
        size = rows[0].input_size
        columns = ['backbone', 'params (M)', 'MACs (G)'
                   ] + metric_names + ['config', 'split']
        lines = [
            f'**{dataset}**' +
            (f' (backbone figures at {size[0]}x{size[1]})' if size else ''),
            '', '| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)
        ]
        for r in sorted(rows, key=lambda r: (r.backbone, r.config_name)):
            cells = [
                r.backbone,
                '-' if r.params is None else f'{r.params / 1e6:.2f}',
                '-' if r.macs is None else f'{r.macs / 1e9:.2f}'
            ] + [
                _format_metric(r.metrics[m]) if m in r.metrics else '-'
                for m in metric_names
            ] + [config_link(r, repo_root), r.source]
            lines.append('| ' + ' | '.join(cells) + ' |')
        parts.append('\n'.join(lines))
    return '\n\n'.join(parts) + '\n'


def metafile_results(results: Sequence[RunResult]) -> Dict[str, List[dict]]:
    """``Results`` entries of the model index, by config name."""
    from .metafile import TASK_NAMES
    entries: Dict[str, List[dict]] = {}
    for r in results:
        if r.source != 'test' or r.task is None:
            continue
        entries.setdefault(r.config_name, []).append(
            dict(
                Task=TASK_NAMES[r.task],
                Dataset=r.dataset,
                Metrics={
                    k: round(v, 4)
                    for k, v in sorted(r.metrics.items())
                }))
    return entries
