# Copyright (c) sparse_backbones contributors. All rights reserved.
"""End-to-end tests of tools/train.py, tools/test.py and the launchers.

The tools run in subprocesses, as users run them, on the ``--demo`` data
with ``--cfg-options`` that cut every pipeline to two training iterations
and a small validation. All runs of this module share one working folder,
so each demo dataset is generated once. Runs that need to look inside the
training process use a wrapper config adding ``tool_probes.StateProbeHook``.
"""
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch
from mmengine.config import Config

from sparse_backbones.utils.safe_load import allow_mmengine_checkpoint_types

from tests import REPO, load_tool

TOOLS = REPO / 'tools'
CONFIGS = dict(
    cls=REPO / 'configs/cls/lemevit-tiny_8xb64_aid.py',
    det=REPO / 'configs/det/lemevit_maskrcnn.py',
    seg=REPO / 'configs/seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py')
# Options cutting each demo to 2 training iterations and a small val/test
# set. cls keeps 2 epochs (of 1 iteration) with its cosine phase moved from
# epoch 2 (the demo's) to epoch 1: a scheduler must span at least one epoch.
SHORT = dict(
    cls=[
        'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=8',
        'train_cfg.max_epochs=2', 'param_scheduler.1.begin=1',
        'val_dataloader.dataset.indices=32',
        'test_dataloader.dataset.indices=32'
    ],
    det=[
        'train_dataloader.dataset.indices=2', 'train_dataloader.batch_size=1',
        'train_cfg.max_epochs=1', 'val_dataloader.dataset.indices=1',
        'test_dataloader.dataset.indices=1',
        'model.train_cfg.rpn_proposal.nms_pre=500',
        'model.train_cfg.rpn_proposal.max_per_img=200',
        'model.train_cfg.rcnn.sampler.num=64',
        'model.test_cfg.rpn.nms_pre=200', 'model.test_cfg.rpn.max_per_img=100',
        'model.test_cfg.rcnn.max_per_img=50'
    ],
    seg=[
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
        'val_dataloader.dataset.indices=2', 'test_dataloader.dataset.indices=2'
    ])
METRIC_KEYS = dict(cls='accuracy/top1', det='pascal_voc/mAP', seg='mIoU')
LAST_CHECKPOINT = dict(cls='epoch_2.pth', det='epoch_1.pth', seg='iter_2.pth')
TIMEOUT = 600  # seconds per tool run; a hung run fails instead of blocking
TRAIN_TITLE = 'final validation metrics'
TEST_TITLE = 'test metrics'


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    # The repository for sparse_backbones, tests/test_tools/ for tool_probes.
    paths = [
        str(REPO), str(REPO / 'tests' / 'test_tools'),
        env.get('PYTHONPATH', '')
    ]
    env['PYTHONPATH'] = os.pathsep.join(p for p in paths if p)
    env['PYTHON'] = sys.executable  # for the launcher scripts
    return env


def run(cmd: List[str],
        cwd: Path,
        expect_ok: bool = True,
        env: Optional[Dict[str, str]] = None,
        timeout: int = TIMEOUT) -> str:
    """Run a command, return stdout+stderr; fail with its tail on error."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    if expect_ok and proc.returncode != 0:
        pytest.fail(f'{" ".join(map(str, cmd))} exited with '
                    f'{proc.returncode}:\n{proc.stdout[-6000:]}')
    if not expect_ok:
        assert proc.returncode != 0, f'expected a failure:\n{proc.stdout}'
    return proc.stdout


def tool(name: str, *args) -> List[str]:
    return [sys.executable, str(TOOLS / name), *map(str, args)]


def parse_metrics(output: str, title: str) -> dict:
    """Read back the JSON metrics block the tools print after ``title``."""
    start = output.rfind(f'======== {title}')
    assert start >= 0, f'no "{title}" block in the output:\n{output[-4000:]}'
    body = output[output.index('\n', start) + 1:]
    metrics, _ = json.JSONDecoder().raw_decode(body)
    return metrics


def probe_config(folder: Path, config: Path, probe_dir: Path) -> Path:
    """Write a config that is ``config`` plus the state probe hook."""
    base = Config.fromfile(str(config))
    hooks = [dict(h) for h in base.get('custom_hooks', None) or []]
    hooks.append(
        dict(type='tool_probes.StateProbeHook', out_dir=str(probe_dir)))
    path = folder / f'{config.stem}_probe.py'
    path.write_text(f'_base_ = [{str(config)!r}]\n'
                    f'custom_hooks = {hooks!r}\n')
    return path


def load_dump(probe_dir: Path, stage: str, rank: int = 0) -> dict:
    return torch.load(probe_dir / f'{stage}_rank{rank}.pth', weights_only=True)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    """Working folder of all runs; demo data lands in its data/demo."""
    return tmp_path_factory.mktemp('tools')


@pytest.fixture(scope='module')
def trained(workspace):
    """Train each task once (lazily); returns ``get(task) -> (dir, out)``."""
    runs = {}

    def get(task: str):
        if task not in runs:
            work_dir = workspace / f'train_{task}'
            out = run(
                tool('train.py', CONFIGS[task], '--demo', '--work-dir',
                     work_dir, '--cfg-options', *SHORT[task]), workspace)
            runs[task] = (work_dir, out)
        return runs[task]

    return get


@pytest.mark.parametrize('task', ['cls', 'det', 'seg'])
def test_train_demo(trained, task):
    work_dir, out = trained(task)
    metrics = parse_metrics(out, TRAIN_TITLE)
    value = metrics[METRIC_KEYS[task]]
    assert isinstance(value, float) and 0 <= value <= 100

    # The last checkpoint is the one named in last_checkpoint, after exactly
    # two iterations, and loads under torch's weights_only default.
    ckpt_path = work_dir / LAST_CHECKPOINT[task]
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(
        ckpt_path.resolve())
    allow_mmengine_checkpoint_types()
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert {'message_hub', 'optimizer', 'param_schedulers'} <= set(ckpt)
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])


def test_test_reproduces_train_metrics_cls(trained, workspace):
    work_dir, train_out = trained('cls')
    preds = workspace / 'cls_preds.pkl'
    out = run(
        tool('test.py', CONFIGS['cls'], work_dir / 'epoch_2.pth', '--demo',
             '--work-dir', workspace / 'test_cls', '--out', preds,
             '--cfg-options', *SHORT['cls']), workspace)
    # Evaluated switched to deploy (the default): the metrics of training's
    # validation, which ran the reference layers.
    assert 'Backbones switched to deploy' in out
    assert parse_metrics(out,
                         TEST_TITLE) == parse_metrics(train_out, TRAIN_TITLE)
    with open(preds, 'rb') as f:
        assert len(pickle.load(f)) == 32  # one prediction per test image


def prefixed_checkpoint(trained, workspace) -> Path:
    """The cls run's last checkpoint with every weight under 'model.'."""
    prefixed = workspace / 'prefixed.pth'
    if not prefixed.exists():
        work_dir, _ = trained('cls')
        allow_mmengine_checkpoint_types()
        ckpt = torch.load(work_dir / 'epoch_2.pth', map_location='cpu',
                          weights_only=True)
        ckpt['state_dict'] = {
            f'model.{k}': v
            for k, v in ckpt['state_dict'].items()
        }
        torch.save(ckpt, prefixed)
    return prefixed


def test_test_refuses_a_checkpoint_that_does_not_fit(trained, workspace):
    """Keys under another prefix: an error naming it, and no metrics of a
    randomly initialised model."""
    prefixed = prefixed_checkpoint(trained, workspace)
    out = run(
        tool('test.py', CONFIGS['cls'], prefixed, '--demo', '--work-dir',
             workspace / 'test_cls_prefixed', '--cfg-options',
             *SHORT['cls']),
        workspace,
        expect_ok=False)
    assert 'does not fit the model of the config' in out
    assert "carry the prefix 'model.'" in out
    assert TEST_TITLE not in out


def test_resume_refuses_a_checkpoint_that_does_not_fit(trained, workspace):
    prefixed = prefixed_checkpoint(trained, workspace)
    out = run(
        tool('train.py', CONFIGS['cls'], '--demo', '--work-dir',
             workspace / 'resume_prefixed', '--resume', prefixed,
             '--cfg-options', *SHORT['cls']),
        workspace,
        expect_ok=False)
    assert 'does not fit the model of the config' in out
    assert TRAIN_TITLE not in out


@pytest.mark.slow
@pytest.mark.parametrize('task', ['det', 'seg'])
def test_test_reproduces_train_metrics(trained, workspace, task):
    work_dir, train_out = trained(task)
    out = run(
        tool('test.py', CONFIGS[task], work_dir / LAST_CHECKPOINT[task],
             '--demo', '--work-dir', workspace / f'test_{task}',
             '--cfg-options', *SHORT[task]), workspace)
    assert parse_metrics(out,
                         TEST_TITLE) == parse_metrics(train_out, TRAIN_TITLE)


@pytest.mark.slow
def test_test_tta_cls(trained, workspace):
    work_dir, _ = trained('cls')
    out = run(
        tool('test.py', CONFIGS['cls'], work_dir / 'epoch_2.pth', '--demo',
             '--work-dir', workspace / 'test_cls_tta', '--tta',
             '--cfg-options', *SHORT['cls']), workspace)
    metrics = parse_metrics(out, TEST_TITLE)
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert 'AverageClsScoreTTA' in out  # the config the runner logged


@pytest.mark.slow
@pytest.mark.parametrize('task', ['cls', 'seg'])
def test_test_show_dir(trained, workspace, task):
    work_dir, _ = trained(task)
    show_dir = workspace / f'{task}_show'
    run(
        tool('test.py', CONFIGS[task], work_dir / LAST_CHECKPOINT[task],
             '--demo', '--work-dir', workspace / f'test_{task}_show',
             '--show-dir', show_dir, '--cfg-options', *SHORT[task],
             'test_dataloader.dataset.indices=2'), workspace)
    # One painted image per test image.
    assert len(list(show_dir.rglob('*.png'))) == 2


@pytest.mark.slow
@pytest.mark.skipif(
    torch.cuda.is_available() and torch.cuda.device_count() < 2,
    reason='two ranks on one GPU')
def test_dist_test_matches_single_process(trained, workspace):
    work_dir, train_out = trained('cls')
    env = _env()
    env['PORT'] = str(_free_port())
    out = run([
        'bash',
        str(TOOLS / 'dist_test.sh'),
        str(CONFIGS['cls']),
        str(work_dir / 'epoch_2.pth'), '2', '--demo', '--work-dir',
        str(workspace / 'dist_test_cls'), '--cfg-options', *SHORT['cls']
    ],
              workspace,
              env=env)
    assert out.count(f'======== {TEST_TITLE}') == 1  # rank 0 only
    assert parse_metrics(out,
                         TEST_TITLE) == parse_metrics(train_out, TRAIN_TITLE)


def test_resume_continues(trained, workspace):
    work_dir, _ = trained('cls')
    allow_mmengine_checkpoint_types()  # not installed by the import
    saved = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    # A fresh work dir whose last_checkpoint points at the finished run, so
    # the bare --resume (auto) has to find it the way mmengine does.
    resume_dir = workspace / 'resume_cls'
    resume_dir.mkdir()
    (resume_dir / 'last_checkpoint').write_text(
        str((work_dir / 'epoch_2.pth').resolve()))
    probe_dir = workspace / 'resume_probe'
    config = probe_config(workspace, CONFIGS['cls'], probe_dir)
    out = run(
        tool('train.py', config, '--demo', '--resume', '--work-dir',
             resume_dir, '--cfg-options', *SHORT['cls'],
             'train_cfg.max_epochs=3'), workspace)

    before = load_dump(probe_dir, 'before_train')
    assert (before['epoch'], before['iter']) == (2, 2)
    for name, param in before['params'].items():
        assert torch.equal(param, saved['state_dict'][name]), name

    after = load_dump(probe_dir, 'after_train')
    assert (after['epoch'], after['iter']) == (3, 3)
    assert len(after['samples']) == 8  # one more epoch of 8 images
    changed = [
        name for name, param in after['params'].items()
        if not torch.equal(param, before['params'][name])
    ]
    assert changed, 'the resumed run did not update any weight'

    final = torch.load(resume_dir / 'epoch_3.pth', weights_only=True)
    assert (final['meta']['epoch'], final['meta']['iter']) == (3, 3)
    # The message hub was resumed too: 2 old losses + 1 new one.
    losses = final['message_hub']['log_scalars']['train/loss']
    assert len(losses.data[0]) == 3
    assert TRAIN_TITLE + ' (epoch 3, iter 3)' in out


# Runs for the exact-resume test: two epochs (iterations for seg), a
# checkpoint after each, all kept, and a validation after each, which draws
# numbers in the uninterrupted run that the resumed one never draws.
EXACT_RESUME = dict(
    cls=SHORT['cls'],
    det=SHORT['det'] + [
        'train_dataloader.dataset.indices=1', 'train_cfg.max_epochs=2'
    ],
    seg=SHORT['seg'])
EVERY_STEP = [
    'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=-1', 'train_cfg.val_interval=1',
    'randomness.deterministic=True'
]
CHECKPOINTS = dict(
    cls=('epoch_1.pth', 'epoch_2.pth'),
    det=('epoch_1.pth', 'epoch_2.pth'),
    seg=('iter_1.pth', 'iter_2.pth'))


def _assert_same_tensors(ours: dict, theirs: dict, where: str) -> None:
    assert ours.keys() == theirs.keys(), where
    for key, value in ours.items():
        if isinstance(value, dict):
            _assert_same_tensors(value, theirs[key], f'{where}.{key}')
        elif isinstance(value, torch.Tensor):
            assert torch.equal(value, theirs[key]), f'{where}.{key}'


# Data workers that keep their generators between epochs (cls) or through
# the whole run (seg's infinite iterator).
WORKERS = [
    'train_dataloader.num_workers=2', 'train_dataloader.persistent_workers=True'
]


@pytest.mark.parametrize('task, workers', [
    ('cls', False),
    pytest.param('cls', True, marks=pytest.mark.slow),
    pytest.param('det', False, marks=pytest.mark.slow),
    pytest.param('seg', False, marks=pytest.mark.slow),
    pytest.param('seg', True, marks=pytest.mark.slow),
])
def test_resume_repeats_the_uninterrupted_run(workspace, task, workers):
    """Stopped after the first checkpoint and resumed, a run ends with the
    weights, buffers and optimizer state of the uninterrupted run, bit for
    bit (ExactResumeHook, added by train.py)."""
    first, last = CHECKPOINTS[task]
    options = [
        '--cfg-options', *EXACT_RESUME[task], *EVERY_STEP,
        *(WORKERS if workers else [])
    ]
    whole = workspace / f'exact_{task}_{workers}_whole'
    run(
        tool('train.py', CONFIGS[task], '--demo', '--work-dir', whole,
             *options), workspace)
    # The first checkpoint is what a run stopped there would have left.
    resumed = workspace / f'exact_{task}_{workers}_resumed'
    run(
        tool('train.py', CONFIGS[task], '--demo', '--work-dir', resumed,
             '--resume', whole / first, *options), workspace)

    allow_mmengine_checkpoint_types()
    ours, theirs = (torch.load(
        folder / last, map_location='cpu', weights_only=True)
                    for folder in (resumed, whole))
    assert ours['meta']['iter'] == theirs['meta']['iter'] == 2
    _assert_same_tensors(ours['state_dict'], theirs['state_dict'],
                         'state_dict')
    _assert_same_tensors(ours['optimizer']['state'],
                         theirs['optimizer']['state'], 'optimizer')
    # Guard against a vacuous pass: the second step changed the weights.
    start = torch.load(whole / first, map_location='cpu', weights_only=True)
    assert any(not torch.equal(value, theirs['state_dict'][key])
               for key, value in start['state_dict'].items())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# The designs whose backbones hold trained buffers: BatchNorm in LeMeViT's
# stem and downsampling, and in LIT's deformable token merging (DGE and
# LTM-ViT have no buffers, LTM-Swin only its constant position indices).
BUFFERED_BACKBONES = dict(
    lemevit=CONFIGS['cls'], lit=REPO / 'configs/cls/lit-s_8xb64_aid.py')


@pytest.mark.skipif(
    torch.cuda.is_available() and torch.cuda.device_count() < 2,
    reason='two ranks on one GPU')
@pytest.mark.parametrize('design', sorted(BUFFERED_BACKBONES))
def test_distributed_two_ranks_agree(workspace, design):
    probe_dir = workspace / f'dist_probe_{design}'
    config = probe_config(workspace, BUFFERED_BACKBONES[design], probe_dir)
    work_dir = workspace / f'dist_{design}'
    env = _env()
    env['PORT'] = str(_free_port())
    # 8 images on 2 ranks x batch 2: 2 iterations per epoch, 2 epochs.
    out = run([
        'bash',
        str(TOOLS / 'dist_train.sh'),
        str(config), '2', '--demo', '--work-dir',
        str(work_dir), '--cfg-options', 'train_dataloader.dataset.indices=8',
        'train_dataloader.batch_size=2', 'train_cfg.max_epochs=2',
        'param_scheduler.1.begin=1', 'val_dataloader.dataset.indices=16'
    ],
              workspace,
              env=env)
    assert out.count(f'======== {TRAIN_TITLE}') == 1  # rank 0 only
    if not torch.cuda.is_available():
        dumped = Config.fromfile(str(work_dir / osp.basename(config)))
        assert dumped.env_cfg.dist_cfg.backend == 'gloo'

    dumps = [load_dump(probe_dir, 'after_train', rank) for rank in (0, 1)]
    starts = [load_dump(probe_dir, 'before_train', rank) for rank in (0, 1)]
    for rank, dump in enumerate(dumps):
        assert (dump['rank'], dump['world_size']) == (rank, 2)
        assert (dump['epoch'], dump['iter']) == (2, 4)
    # Each rank trained on its own half of every epoch...
    for epoch in (0, 1):
        seen = [{s for e, s in d['samples'] if e == epoch} for d in dumps]
        assert len(seen[0]) == len(seen[1]) == 4
        assert not seen[0] & seen[1]
    # ...yet all ranks hold the same, updated weights: gradients were
    # all-reduced.
    params = [d['params'] for d in dumps]
    assert params[0].keys() == params[1].keys()
    for name in params[0]:
        assert torch.equal(params[0][name], params[1][name]), name
    assert any(not torch.equal(params[0][n], starts[0]['params'][n])
               for n in params[0])
    # BatchNorm running statistics too: tools/train.py adds mmengine's
    # SyncBuffersHook, which averages them across ranks after every epoch;
    # without it each rank kept its own.
    buffers = [d['buffers'] for d in dumps]
    stats = [n for n in buffers[0] if n.endswith('running_var')]
    assert stats, 'the model has no BatchNorm statistics to compare'
    for name in buffers[0]:
        assert torch.equal(buffers[0][name], buffers[1][name]), name
    assert any(not torch.equal(buffers[0][n], starts[0]['buffers'][n])
               for n in stats)
    allow_mmengine_checkpoint_types()  # not installed by the import
    saved = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    for name, param in params[0].items():
        assert torch.equal(param, saved['state_dict'][name]), name
    # The checkpoint holds the persistent ones (not the data
    # preprocessor's mean/std), all BatchNorm statistics among them.
    persistent = [n for n in buffers[0] if n in saved['state_dict']]
    assert set(stats) <= set(persistent)
    for name in persistent:
        assert torch.equal(buffers[0][name], saved['state_dict'][name]), name


def test_missing_dataset_names_path_and_demo(workspace):
    missing = workspace / 'no_such_dataset'
    out = run(
        tool('train.py', CONFIGS['cls'], '--work-dir', workspace / 'missing',
             '--cfg-options', f'train_dataloader.dataset.data_root={missing}'),
        workspace,
        expect_ok=False)
    assert 'FileNotFoundError' in out
    assert str(missing) in out
    assert 'train_dataloader.dataset.data_root' in out
    assert '--demo' in out


def test_slurm_train_script_passes_arguments(tmp_path):
    # A stand-in srun that records its arguments instead of launching.
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    record = tmp_path / 'srun_args'
    srun = fake_bin / 'srun'
    srun.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    srun.chmod(0o755)
    env = _env()
    env.update(
        PATH=f'{fake_bin}{os.pathsep}{env["PATH"]}',
        GPUS='16',
        GPUS_PER_NODE='8',
        CPUS_PER_TASK='4',
        SRUN_ARGS='--quotatype=auto --time=10')
    run([
        'bash',
        str(TOOLS / 'slurm_train.sh'), 'part1', 'job1',
        str(CONFIGS['cls']), 'wd1', '--amp', '--cfg-options', 'a=1'
    ],
        tmp_path,
        env=env)
    args = record.read_text().splitlines()
    assert args[:2] == ['-p', 'part1']
    for expected in ('--job-name=job1', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--cpus-per-task=4',
                     '--kill-on-bad-exit=1', '--quotatype=auto', '--time=10'):
        assert expected in args
    train_args = args[args.index(str(TOOLS / 'train.py')) + 1:]
    assert train_args == [
        str(CONFIGS['cls']), '--work-dir=wd1', '--launcher=slurm', '--amp',
        '--cfg-options', 'a=1'
    ]


def test_launch_scripts_need_arguments(tmp_path):
    for script, n_args in (('dist_train.sh', 1), ('dist_test.sh', 2),
                           ('slurm_train.sh', 3)):
        proc = subprocess.run(
            ['bash', str(TOOLS / script)] + ['x'] * n_args,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60)
        assert proc.returncode == 2 and 'usage:' in proc.stdout, script


# ------------------------------------------------ in-process unit tests --
def _train_cfg(*argv: str):
    train = load_tool('train.py')
    args = train.parse_args([str(CONFIGS['cls']), *argv])
    cfg = Config.fromfile(str(CONFIGS['cls']))
    train.merge_train_args(cfg, args)
    return cfg


def test_train_args_resume_and_scale_lr(tmp_path):
    cfg = _train_cfg('--resume')
    assert cfg.resume is True and cfg.load_from is None
    ckpt = tmp_path / 'some.pth'
    ckpt.write_bytes(b'')
    cfg = _train_cfg('--resume', str(ckpt), '--auto-scale-lr')
    assert cfg.resume is True and cfg.load_from == str(ckpt)
    assert cfg.auto_scale_lr.enable is True
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _train_cfg('--resume', str(tmp_path / 'missing.pth'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU error')
def test_amp_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match='--amp needs a GPU'):
        _train_cfg('--amp')


def test_amp_dtype_sets_the_optim_wrapper(monkeypatch):
    train = load_tool('train.py')
    monkeypatch.setattr(train, 'get_device', lambda: 'cuda')
    cfg = Config.fromfile(str(CONFIGS['cls']))
    train.merge_train_args(
        cfg,
        train.parse_args(
            [str(CONFIGS['cls']), '--amp', '--amp-dtype', 'bfloat16']))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    with pytest.raises(RuntimeError, match='pass --amp too'):
        _train_cfg('--amp-dtype', 'float16')


def test_non_pytorch_launcher_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip('checks the CPU error')
    common = load_tool('_common.py')
    cfg = Config(dict(launcher='slurm'))
    with pytest.raises(RuntimeError, match='torchrun'):
        common.setup_distributed_without_cuda(cfg)


def test_training_over_an_earlier_run_is_refused(tmp_path):
    train = load_tool('train.py')
    work_dir = tmp_path / 'run'
    train.check_work_dir(str(work_dir), None, False)  # no folder yet
    work_dir.mkdir()
    train.check_work_dir(str(work_dir), None, False)  # logs only
    (work_dir / 'epoch_3.pth').write_bytes(b'')
    with pytest.raises(RuntimeError) as error:
        train.main([str(CONFIGS['cls']), '--work-dir', str(work_dir)])
    message = str(error.value)
    assert 'epoch_3.pth' in message
    for option in ('--resume', '--work-dir', '--overwrite'):
        assert option in message
    train.check_work_dir(str(work_dir), 'auto', False)
    train.check_work_dir(str(work_dir), None, True)


def test_schedule_shorter_than_its_warm_up_is_a_clear_error():
    common = load_tool('_common.py')
    cfg = Config.fromfile(str(CONFIGS['cls']))
    common.check_param_schedulers(cfg)  # the recipe: 5 warm-up epochs of 100
    cfg.train_cfg.max_epochs = 5
    with pytest.raises(ValueError) as error:
        common.check_param_schedulers(cfg)
    message = str(error.value)
    assert 'param_scheduler[1] (CosineAnnealingLR)' in message
    assert 'from epoch 5 to 5' in message
    assert 'train_cfg.max_epochs' in message
    assert 'param_scheduler.0.end=N param_scheduler.1.begin=N' in message


def test_tta_wraps_model_and_pipeline():
    test_tool = load_tool('test.py')
    cfg = Config.fromfile(str(CONFIGS['cls']))
    pack = cfg.test_dataloader.dataset.pipeline[-1]
    test_tool.enable_tta(cfg)
    assert cfg.model.type == 'mmpretrain.AverageClsScoreTTA'
    assert cfg.model.module.backbone.type == 'sparse_backbones.LeMeViT'
    tta = cfg.test_dataloader.dataset.pipeline[-1]
    assert tta.type == 'TestTimeAug'
    assert [t['prob'] for t in tta.transforms[0]] == [0., 1.]
    assert tta.transforms[1] == [pack]
