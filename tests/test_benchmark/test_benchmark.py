# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/benchmark.py and sparse_backbones.benchmark: the model set, the
tables, ratios against the named baseline, paper flags and the output files
(no timing thresholds: speed is reported, not tested)."""
import csv
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from sparse_backbones.backbones import LeMeViT
from sparse_backbones.benchmark import (BASELINES, breakdown,
                                        load_paper_figures, our_specs,
                                        readme_section, replace_marked_block,
                                        resolve_specs, table_rows, to_markdown)
from sparse_backbones.benchmark.breakdown import op_kind
from sparse_backbones.benchmark.measure import Settings, run_benchmark
from sparse_backbones.benchmark.report import (COLUMNS, compare_with_paper,
                                               unmatched_paper_archs)
from sparse_backbones.benchmark.zoo import arch_groups
from sparse_backbones.layers import Attention, attention
from sparse_backbones.layers.complexity import count_macs, count_macs_mmengine
from sparse_backbones.registry import MODELS

TIMEOUT = 600


# ------------------------------------------------------------------ zoo
def test_arch_groups_pick_one_canonical_name_per_arch():
    tiny, small = {'d': 1}, {'d': 2}
    zoo = {'t': tiny, 'tiny': tiny, 's': small, 'small': dict(small)}
    assert arch_groups(zoo) == {'tiny': ['t', 'tiny'], 'small': ['s', 'small']}


def test_default_set_is_every_registered_arch_plus_baselines():
    expected = {
        f'{name}-{arch}'
        for name, cls in MODELS.module_dict.items()
        if getattr(cls, 'arch_zoo', None) for arch in arch_groups(cls.arch_zoo)
    }
    # Dynamic designs (DGE) also at their trained budget.
    expected |= {
        f'{name}-{arch}@0.5'
        for name, cls in MODELS.module_dict.items()
        if hasattr(cls, 'set_router_bias') for arch in arch_groups(
            cls.arch_zoo)
    }
    names = [spec.name for spec in resolve_specs()]
    assert len(names) == len(set(names))
    assert {'LeMeViT-tiny', 'LeMeViT-small', 'LeMeViT-base',
            'DGEDeiT-small@0.5'} <= expected
    assert set(names) == expected | {
        'DeiT-S', 'PVT-S', 'PVTv2-b1', 'PVTv2-b2', 'Swin-T'
    }
    assert all(spec.ours for spec in our_specs())


def test_dge_budget_variant_realises_its_budget():
    spec = {s.name: s for s in resolve_specs()}['DGEPVT-tiny@0.5']
    model = spec.build('cls', 64)
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
    assert abs(model.last_stats.flops_ratio - 0.5) < 0.1
    # The build is seeded: the same router weights every time.
    again = spec.build('cls', 64)
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)


def test_unknown_model_name_is_refused_with_the_known_names():
    with pytest.raises(KeyError, match="Unknown model 'Swin-X'.*Swin-T"):
        resolve_specs(['Swin-X'])


@pytest.mark.parametrize('name', [
    'DeiT-S', 'Swin-T', 'PVTv2-b1',
    pytest.param('PVT-S', marks=pytest.mark.slow),
    pytest.param('PVTv2-b2', marks=pytest.mark.slow)
])
def test_baselines_build_for_both_modes(name):
    spec = BASELINES[name]
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        cls_out = spec.build('cls', 64)(x)
        dense_out = spec.build('dense', 64)(x)
    assert len(cls_out) == 1
    # ViT gives one map in dense mode, the pyramids their four stages.
    assert len(dense_out) == (1 if name == 'DeiT-S' else 4)
    assert all(o.dim() == 4 for o in dense_out)


def _first_arch_specs():
    """The first arch of each registered class of ours (all: slow)."""
    seen, params = set(), []
    for spec in our_specs():
        cls_name = spec.type_name
        marks = [pytest.mark.slow] if cls_name in seen else []
        seen.add(cls_name)
        params.append(pytest.param(spec, marks=marks, id=spec.name))
    return params


@pytest.mark.parametrize('spec', _first_arch_specs())
def test_every_registered_arch_builds_for_both_modes(spec):
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        for mode in ('cls', 'dense'):
            outputs = spec.build(mode, 64)(x)
            assert isinstance(outputs, tuple) and len(outputs) >= 1
            assert all(torch.isfinite(o).all() for o in outputs)


def test_our_specs_use_the_classification_output_in_cls_mode():
    spec = next(s for s in our_specs() if s.name == 'LeMeViT-tiny')
    assert spec.build_cfg('cls', 224)['out_type'] == 'avg_featmap'
    assert spec.build_cfg('dense', 512)['out_indices'] == (0, 1, 2, 3)


def test_count_macs_on_the_given_input_equals_the_shape_count():
    arch = dict(
        embed_dims=[32, 64, 96, 128], depths=[1, 1, 1, 1], cross_depth=1)
    model = LeMeViT(arch)
    inputs = torch.rand(2, 3, 32, 32)
    assert count_macs(
        model, inputs=inputs) == count_macs(model, (2, 3, 32, 32))
    with pytest.raises(ValueError, match='exactly one of'):
        count_macs(model, (1, 3, 32, 32), inputs=inputs)
    with pytest.raises(ValueError, match='exactly one of'):
        count_macs(model)


def test_mmengine_cross_check_misses_the_fused_attention(monkeypatch):
    """mmengine's tracing counter sees the explicit attention products of
    the reference path but not scaled_dot_product_attention, so where SDPA
    runs it gives less than count_macs, which counts both paths alike."""
    arch = dict(
        embed_dims=[32, 64, 96, 128], depths=[1, 1, 1, 1], cross_depth=1)
    model = LeMeViT(arch).eval()
    # 256 stride-4 tokens: past CPU_EXPLICIT_MAX_KEYS, so SDPA runs
    inputs = torch.rand(1, 3, 64, 64)
    ours = count_macs(model, inputs=inputs)
    on_sdpa = count_macs_mmengine(model, inputs)
    monkeypatch.setattr(attention, '_cpu_explicit_is_faster',
                        lambda *args: True)
    assert count_macs(model, inputs=inputs) == ours
    assert 0 < on_sdpa < ours
    assert on_sdpa < count_macs_mmengine(model, inputs)


# -------------------------------------------------------------- report
def _result(size=224, mode='cls'):
    """A run in the JSON layout of run_benchmark, with round figures."""

    def model(name, ours, params, macs, speeds, memory, error=None):
        return dict(
            name=name,
            ours=ours,
            params=params,
            head_params=385_000,
            macs=macs,
            mmengine_macs=None,
            images_per_s=speeds,
            peak_memory_mb=memory,
            error=error)

    return dict(
        environment=dict(
            device='cpu (test)',
            threads=2,
            torch='x',
            python='3',
            dtype='float32'),
        settings=dict(
            size=size,
            mode=mode,
            batch=4,
            repeats=3,
            warmup=1,
            channels_last=False),
        matmul=dict(size=2048, seconds=[1.0], macs_per_s=100e9),
        models=[
            model('LeMeViT-small', True, 16_015_456, 3.96e9, [20, 24, 22],
                  100.),
            model('Swin-T', False, 27_519_354, 4.5e9, [10, 11, 12], 200.),
            model('Broken', True, None, None, [], None, error='Boom()'),
        ])


def test_rows_give_ratios_to_the_named_baseline_and_efficiency():
    rows = {r['name']: r for r in table_rows(_result(), 'Swin-T', {})}
    small, swin = rows['LeMeViT-small'], rows['Swin-T']
    assert swin['images_per_s_ratio'] == 1
    assert small['images_per_s'] == 22  # median of 20, 24, 22
    assert small['images_per_s_ratio'] == pytest.approx(22 / 11)
    assert small['params_ratio'] == pytest.approx(16_015_456 / 27_519_354)
    assert small['macs_ratio'] == pytest.approx(3.96 / 4.5)
    assert small['peak_memory_mb_ratio'] == pytest.approx(0.5)
    assert (small['min'], small['max']) == (20, 24)
    # 3.96 G MACs x 22 images/s over a 100 G MACs/s matmul.
    assert small['efficiency'] == pytest.approx(3.96 * 22 / 100)
    assert rows['Broken']['images_per_s_ratio'] is None
    assert rows['Broken']['flags'] == ['failed: Boom()']
    # Another baseline changes every ratio; the default is Swin-T.
    other = table_rows(_result(), 'LeMeViT-small', {})
    assert other[1]['images_per_s_ratio'] == pytest.approx(11 / 22)
    assert table_rows(_result(), None, {})[1]['images_per_s_ratio'] == 1
    with pytest.raises(KeyError, match='not among the measured'):
        table_rows(_result(), 'DeiT-S', {})


def test_paper_figures_are_compared_at_their_precision():
    row = dict(params=16_015_456, head_params=385_000, macs=3.96e9)
    # 16.40 M with the head: equal at two decimals; MACs +5.9 %.
    assert compare_with_paper(row, dict(params='16.40',
                                        macs='3.74')) == ['MACs +6% vs paper']
    assert compare_with_paper(row, dict(params='16.40', macs='3.90')) == []
    assert compare_with_paper(row, dict(
        params='16.3', macs='3.96')) == ['params differ (16.4 M vs 16.3 M)']
    # An integer is an exact count; head=False leaves the head out.
    assert compare_with_paper(row, dict(params=16_015_456, head=False)) == []
    assert compare_with_paper(row, dict(params=16_400_456)) == []
    assert compare_with_paper(
        row, dict(params=16_400_457))[0].startswith('params differ')


def test_paper_file_resolves_arch_aliases_to_display_names():
    figures = load_paper_figures()
    assert figures['LeMeViT-small']['macs'] == '3.74'
    assert figures['LeMeViT-small']['input'] == 224
    assert 'source' in figures['LeMeViT-small']
    assert figures['Swin-T']['top1'] == 81.3
    rows = {r['name']: r for r in table_rows(_result(), 'Swin-T', figures)}
    assert rows['LeMeViT-small']['paper']['top1'] == 81.88
    assert rows['LeMeViT-small']['flags'] == ['MACs +6% vs paper']
    # Only the classification mode at the paper's input size is compared.
    for size, mode in ((512, 'cls'), (224, 'dense')):
        rows = table_rows(_result(size, mode), 'Swin-T', figures)
        assert all(r['paper'] is None for r in rows)


def test_paper_archs_of_registered_classes_exist():
    assert unmatched_paper_archs() == []


def test_markdown_has_every_column_and_the_run_settings():
    text = to_markdown(_result(), 'Swin-T', {})
    header = next(line for line in text.splitlines()
                  if line.startswith('| model'))
    assert [c.strip() for c in header.strip('|').split('|')] == COLUMNS
    assert 'threads 2' in text and 'batch 4' in text and '224x224' in text
    assert 'ratios (x) to Swin-T' in text
    assert '| LeMeViT-small | 16.02 | 0.58 | 3.96 | 0.88 | 22.0 | 20.0-24.0 '\
           '| 2.00 | 100 | 0.50 | 87% |' in text
    # Throughput keeps three significant digits (1024 px runs under 1/s).
    slow = _result()
    slow['models'][0]['images_per_s'] = [0.2346, 0.3451, 0.2811]
    assert '| 0.281 | 0.235-0.345 |' in to_markdown(slow, 'Swin-T', {})
    # The slower reference candidates are named beside the one used.
    run = _result()
    run['matmul'].update(
        kernel='oneDNN linear',
        kernel_rates={'torch.mm': 40e9, 'oneDNN linear': 100e9})
    assert '(oneDNN linear): 100.0 G MACs/s (torch.mm: 40); ratios' in \
        to_markdown(run, 'Swin-T', {})


def test_marked_block_is_replaced_and_missing_markers_are_named(tmp_path):
    readme = tmp_path / 'README.md'
    readme.write_text('a\n<!-- benchmark:start -->\nold\n'
                      '<!-- benchmark:end -->\nb\n')
    replace_marked_block(str(readme), 'benchmark', 'new table\n')
    assert readme.read_text() == ('a\n<!-- benchmark:start -->\nnew table\n'
                                  '<!-- benchmark:end -->\nb\n')
    with pytest.raises(ValueError, match='results:start'):
        replace_marked_block(str(readme), 'results', 'x')
    runs = [_result(), _result(), _result(1024, 'dense')]
    runs[0]['command'] = runs[1]['command'] = 'python tools/b.py --size 224'
    runs[2]['command'] = 'python tools/b.py --size 1024'
    section = readme_section(runs, 'Swin-T')
    # each run's command once, in order, then one table per run
    assert ('```bash\npython tools/b.py --size 224\n'
            'python tools/b.py --size 1024\n```') in section
    assert section.count('**224 px, cls mode**') == 2
    assert '**1024 px, dense mode**' in section


# ------------------------------------------------------- the tool itself
@pytest.fixture(scope='module')
def tool_run(repo_root, tmp_path_factory):
    """One real run: two models at 224, batch 1, two repeats."""
    out_dir = tmp_path_factory.mktemp('bench')
    result = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'benchmark.py'), 'LeMeViT-tiny',
        'PVTv2-b1', '--baseline', 'PVTv2-b1', '--batch', '1', '--size', '224',
        '--repeats', '2', '--warmup', '0', '--threads', '1', '--out-dir',
        str(out_dir)
    ],
                            capture_output=True,
                            text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, out_dir


def _markdown_rows(text):
    rows = [[c.strip() for c in line.strip('|').split('|')]
            for line in text.splitlines() if line.startswith('| ')]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_tool_prints_every_column_with_ratios_to_the_baseline(tool_run):
    stdout, _ = tool_run
    assert 'threads 1' in stdout and 'batch 1, 224x224' in stdout
    # glibc's thresholds were raised before timing (the default on CPU)
    assert 'malloc freed memory kept' in stdout
    assert 'ratios (x) to PVTv2-b1' in stdout
    rows = {r['model']: r for r in _markdown_rows(stdout)}
    assert set(rows) == {'LeMeViT-tiny', 'PVTv2-b1 (host)'}
    assert list(rows['LeMeViT-tiny']) == COLUMNS
    lemevit, pvt = rows['LeMeViT-tiny'], rows['PVTv2-b1 (host)']
    for key in ('params x', 'MACs x', 'speed x', 'mem x'):
        assert pvt[key] == '1.00'
    assert lemevit['MACs (G)'] == '1.95'
    speed = float(lemevit['images/s']) / float(pvt['images/s'])
    assert abs(float(lemevit['speed x']) - speed) < 0.02 * speed + 0.01
    low, high = map(float, lemevit['min-max'].split('-'))
    assert low <= float(lemevit['images/s']) <= high
    assert float(lemevit['peak mem (MB)']) > 0
    assert lemevit['efficiency'].endswith('%')
    # Paper figures beside ours: LeMeViT's calflops MACs are 16 % lower.
    assert lemevit['paper MACs (G)'] == '1.68'
    assert lemevit['flags'] == 'MACs +16% vs paper'
    assert pvt['paper params (M)'] == '14.0' and pvt['flags'] == '-'


def test_tool_writes_csv_json_and_png(tool_run, repo_root, tmp_path):
    stdout, out_dir = tool_run
    stem = osp.join(out_dir, 'benchmark_cls_224')
    with open(stem + '.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == ['LeMeViT-tiny', 'PVTv2-b1']
    assert float(rows[1]['images_per_s_ratio']) == 1.0
    assert int(rows[0]['params']) == sum(
        p.numel()
        for p in LeMeViT('tiny', out_type='avg_featmap').parameters())
    with open(stem + '.json') as f:
        saved = json.load(f)
    assert saved['baseline'] == 'PVTv2-b1'
    assert len(saved['models'][0]['images_per_s']) == 2
    assert saved['matmul']['macs_per_s'] > 0
    # The reference is the fastest fp32 GEMM the CPU offers.
    rates = saved['matmul']['kernel_rates']
    assert saved['matmul']['kernel'] == max(rates, key=rates.get)
    assert 'torch.mm' in rates
    with open(stem + '.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    # The saved run renders into a README block without measuring again.
    readme = tmp_path / 'README.md'
    readme.write_text('<!-- benchmark:start -->\n<!-- benchmark:end -->\n')
    result = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'benchmark.py'), '--from-json',
        stem + '.json', '--baseline', 'PVTv2-b1', '--update-readme',
        str(readme)
    ],
                            capture_output=True,
                            text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    block = readme.read_text()
    assert re.search(r'python tools/benchmark.py LeMeViT-tiny PVTv2-b1', block)
    table = stdout[stdout.index('| model'):stdout.
                   index('\n\n', stdout.index('| model'))]
    assert table.strip() in block


class _ConvAttention(torch.nn.Module):
    """A 4x4/4 conv, then attention over its 8x8 tokens."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 32, 4, stride=4)
        self.attn = Attention(32, 4)

    def forward(self, x):
        return self.attn(self.conv(x).flatten(2).transpose(1, 2))


def test_breakdown_splits_macs_by_op_kind():
    assert op_kind('_linear_pointwise') == op_kind('addmm') == 'linear'
    assert op_kind('matmul') == op_kind('bmm') == 'attention'
    assert op_kind('deform_conv2d') == 'convolution'
    assert op_kind('layer_norm') == 'other'
    model = _ConvAttention().eval()
    inputs = torch.rand(2, 3, 32, 32)
    kinds = breakdown(model, inputs, repeats=1)['kinds']
    B, N, C = 2, 64, 32
    assert kinds['convolution']['macs'] == B * N * C * 3 * 4 * 4
    assert kinds['linear']['macs'] == B * N * C * 4 * C  # qkv and proj
    assert kinds['attention']['macs'] == 2 * B * N * N * C
    assert kinds['other']['macs'] == 0
    assert sum(k['macs'] for k in kinds.values()) == count_macs(
        model, inputs=inputs)
    for kind in ('linear', 'attention', 'convolution'):
        assert kinds[kind]['seconds'] > 0


def test_tool_breakdown_prints_a_row_per_model(repo_root):
    result = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'benchmark.py'), 'LeMeViT-tiny',
        'DeiT-S', '--breakdown', '--batch', '1', '--size', '64', '--repeats',
        '1', '--threads', '1'
    ],
                            capture_output=True,
                            text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _markdown_rows(result.stdout)
    assert [r['model'] for r in rows] == ['LeMeViT-tiny', 'DeiT-S']
    assert list(rows[0]) == [
        'model', 'ms', 'linear', 'attention', 'convolution', 'other ms',
        'efficiency', 'if other took 0 ms'
    ]
    # DeiT-S has no convolution past its patch embedding: a small share.
    share, _, _ = rows[1]['convolution'].split(', ')
    assert share.endswith('%') and int(share[:-1]) < 10
    assert 'reference' in result.stdout and '64 px, cls mode' in \
        result.stdout


def test_bf16_run_autocasts_and_takes_the_bf16_gemm_as_reference(
        monkeypatch):
    seen = []
    original = LeMeViT.forward

    def forward(self, x):
        outs = original(self, x)
        seen.append(outs[-1].dtype)
        return outs

    monkeypatch.setattr(LeMeViT, 'forward', forward)
    result = run_benchmark(
        resolve_specs(['LeMeViT-tiny']),
        Settings(
            size=64,
            batch=1,
            repeats=1,
            warmup=0,
            matmul_size=128,
            memory=False,
            dtype='bf16'))
    assert result['environment']['dtype'] == 'bfloat16 (autocast)'
    # The reference GEMM runs in bfloat16: oneDNN's fp32 linear is no
    # candidate.
    assert set(result['matmul']['kernel_rates']) == {'torch.mm'}
    assert result['models'][0]['images_per_s']
    # MACs are counted in float32 first; the timed pass runs in bfloat16.
    assert seen[-1] == torch.bfloat16
    with pytest.raises(ValueError, match='dtype must be one of'):
        Settings(dtype='int8').check()
