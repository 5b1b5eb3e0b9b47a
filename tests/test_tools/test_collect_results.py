# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/collect_results.py on work directories in the layout mmengine's
Runner leaves (tools/test.py and tools/train.py runs), written here."""
import json
import os.path as osp
import runpy
import subprocess
import sys

import pytest
from mmengine.config import Config

from sparse_backbones.backbones import LeMeViT
from sparse_backbones.benchmark.results import collect, read_work_dir
from sparse_backbones.layers.complexity import count_macs

TIMEOUT = 600
# The configs the fake work directories were run with.
CLS_NAME = 'lemevit-tiny_8xb64_aid'
SEG_NAME = 'upernet_lemevit-tiny_4xb4-80k_potsdam-512x512'


def _dump_config(repo_root, config, path, **changes):
    cfg = Config.fromfile(osp.join(repo_root, 'configs', config))
    cfg.merge_from_dict(changes)
    cfg.dump(str(path))


def _test_run(repo_root, work_dir, config, timestamp, metrics):
    """What one `tools/test.py CONFIG CKPT --work-dir work_dir` leaves."""
    run = work_dir / timestamp
    (run / 'vis_data').mkdir(parents=True)
    name = osp.splitext(osp.basename(config))[0]
    _dump_config(
        repo_root,
        config,
        work_dir / f'{name}.py',
        load_from=str(work_dir / 'epoch_1.pth'))
    _dump_config(
        repo_root,
        config,
        run / 'vis_data' / 'config.py',
        load_from=str(work_dir / 'epoch_1.pth'))
    (run / f'{timestamp}.log').write_text('log\n')
    (run / f'{timestamp}.json').write_text(
        json.dumps(dict(metrics, data_time=0.01, time=0.2)))


def _train_run(repo_root, work_dir, config, timestamp, validations):
    """What `tools/train.py CONFIG --work-dir work_dir` leaves."""
    run = work_dir / timestamp
    (run / 'vis_data').mkdir(parents=True)
    name = osp.splitext(osp.basename(config))[0]
    _dump_config(repo_root, config, work_dir / f'{name}.py')
    _dump_config(repo_root, config, run / 'vis_data' / 'config.py')
    lines = []
    for step, metrics in enumerate(validations, 1):
        lines.append(
            dict(
                lr=1e-4,
                base_lr=1e-4,
                loss=1.5,
                loss_cls=1.5,
                grad_norm=3.0,
                time=1.0,
                data_time=0.1,
                epoch=step,
                iter=step,
                memory=100,
                step=step))
        lines.append(dict(metrics, data_time=0.01, time=0.3, step=step))
    (run / 'vis_data' / f'{timestamp}.json').write_text('\n'.join(
        json.dumps(line) for line in lines) + '\n')
    (run / 'vis_data' / 'scalars.json').write_text(
        (run / 'vis_data' / f'{timestamp}.json').read_text())


@pytest.fixture(scope='module')
def work_dirs(repo_root, tmp_path_factory):
    root = tmp_path_factory.mktemp('work_dirs')
    cls = root / CLS_NAME
    # An older test run, then the latest one, whose metrics must win.
    _test_run(repo_root, cls, f'cls/{CLS_NAME}.py', '20260101_000000',
              {'accuracy/top1': 50.0})
    _test_run(repo_root, cls, f'cls/{CLS_NAME}.py', '20260102_000000', {
        'accuracy/top1': 91.25,
        'accuracy/top5': 99.5
    })
    seg = root / SEG_NAME
    _test_run(repo_root, seg, f'seg/{SEG_NAME}.py', '20260103_000000', {
        'aAcc': 88.1,
        'mIoU': 75.5,
        'mAcc': 83.0
    })
    det = root / 'lemevit_maskrcnn'  # trained, never tested
    _train_run(repo_root, det, 'det/lemevit_maskrcnn.py', '20260104_000000',
               [{
                   'pascal_voc/mAP': 0.2
               }, {
                   'pascal_voc/mAP': 0.4
               }])
    return dict(cls=cls, seg=seg, det=det, root=root)


def test_latest_test_run_and_its_config_are_read(work_dirs):
    result = read_work_dir(str(work_dirs['cls']), with_complexity=False)
    assert result.metrics == {'accuracy/top1': 91.25, 'accuracy/top5': 99.5}
    assert result.timestamp == '20260102_000000'
    assert (result.task, result.dataset) == ('cls', 'AIDDataset')
    assert result.backbone == 'LeMeViT tiny'
    assert result.config_name == CLS_NAME
    assert result.source == 'test'
    assert result.checkpoint.endswith('epoch_1.pth')


def test_backbone_figures_are_counted_at_the_task_input(work_dirs):
    result = read_work_dir(str(work_dirs['cls']))
    backbone = LeMeViT('tiny', out_type='avg_featmap')
    assert result.params == sum(p.numel() for p in backbone.parameters())
    assert result.macs == count_macs(backbone, (1, 3, 224, 224))
    assert result.input_size == [224, 224]


def test_training_runs_count_only_when_asked(work_dirs):
    assert read_work_dir(str(work_dirs['det'])) is None
    result = read_work_dir(
        str(work_dirs['det']), include_val=True, with_complexity=False)
    assert result.metrics == {'pascal_voc/mAP': 0.4}  # the last validation
    assert (result.source, result.task) == ('val', 'det')
    with pytest.raises(FileNotFoundError, match='not a directory'):
        read_work_dir(str(work_dirs['root'] / 'missing'))


def test_tool_prints_one_table_per_dataset(work_dirs, repo_root, tmp_path):
    readme = tmp_path / 'README.md'
    readme.write_text('x\n<!-- results:start -->\n<!-- results:end -->\n')
    rows_json = tmp_path / 'results.json'
    result = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'collect_results.py'),
        str(work_dirs['cls']),
        str(work_dirs['seg']),
        str(work_dirs['det']), '--no-complexity', '--update-readme',
        str(readme), '--json',
        str(rows_json)
    ],
                            capture_output=True,
                            text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert '**AIDDataset**' in out and '**ISPRSPotsdamDataset**' in out
    assert 'DOTADataset' not in out  # no test run, no --include-val
    assert ('| backbone | params (M) | MACs (G) | accuracy/top1 | '
            'accuracy/top5 | config | split |') in out
    assert ('| LeMeViT tiny | - | - | 91.25 | 99.5 | '
            f'[{CLS_NAME}](configs/cls/{CLS_NAME}.py) | test |') in out
    assert (
        '| LeMeViT tiny | - | - | 88.1 | 83 | 75.5 | '
        f'[{SEG_NAME}](configs/seg/{SEG_NAME}.py) | test |') in out
    assert '**AIDDataset**' in readme.read_text()
    saved = json.loads(rows_json.read_text())
    assert sorted(r['dataset']
                  for r in saved) == ['AIDDataset', 'ISPRSPotsdamDataset']


def test_tool_says_what_to_run_when_nothing_was_tested(work_dirs, repo_root,
                                                       monkeypatch):
    tool = osp.join(repo_root, 'tools', 'collect_results.py')
    monkeypatch.setattr(sys, 'argv', [tool, str(work_dirs['det'])])
    with pytest.raises(SystemExit, match='No test results.*tools/test.py'):
        runpy.run_path(tool, run_name='__main__')


def test_collect_skips_directories_without_results(work_dirs):
    results = collect(
        [str(work_dirs['det']), str(work_dirs['seg'])], with_complexity=False)
    assert [r.config_name for r in results] == [SEG_NAME]
