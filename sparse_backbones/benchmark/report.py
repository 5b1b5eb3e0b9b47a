# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Tables of a benchmark run: ratios, paper figures, Markdown/CSV/JSON/PNG.

Every function here works on the JSON-able result of
:func:`~sparse_backbones.benchmark.measure.run_benchmark`, so a saved run
can be rendered again (e.g. into the README) without measuring again.
"""
import csv
import decimal
import json
import math
import os
import os.path as osp
import re
import statistics
import textwrap
from typing import Dict, List, Optional, Sequence

import yaml

from .zoo import arch_groups, our_backbones

PAPER_FIGURES_FILE = osp.join(osp.dirname(__file__), 'paper_figures.yml')
# MACs further than this from the paper's are flagged.
MACS_TOLERANCE = 0.03

COLUMNS = [
    'model', 'params (M)', 'params x', 'MACs (G)', 'MACs x', 'images/s',
    'min-max', 'speed x', 'peak mem (MB)', 'mem x', 'efficiency',
    'paper params (M)', 'paper MACs (G)', 'paper top-1', 'flags'
]
MMENGINE_COLUMN = 'mmengine MACs (G)'


# ------------------------------------------------------------ paper figures
def load_paper_figures(path: str = PAPER_FIGURES_FILE) -> Dict[str, dict]:
    """Paper figures by benchmark display name (``'LeMeViT-small'``).

    Archs of our classes are expanded to every canonical arch name of the
    registered class whose alias group holds the file's arch key; entries of
    classes that are not registered keep the file's arch key.
    """
    figures, _ = _read_paper_figures(path)
    return figures


def unmatched_paper_archs(path: str = PAPER_FIGURES_FILE) -> List[str]:
    """Archs in the paper file of registered classes that have no such
    arch (a renamed alias would silently drop the comparison)."""
    _, unmatched = _read_paper_figures(path)
    return unmatched


def _read_paper_figures(path: str) -> tuple:
    with open(path) as f:
        raw = yaml.safe_load(f)
    backbones = our_backbones()
    figures, unmatched = {}, []
    for key, entry in raw.items():
        if 'archs' not in entry:
            figures[key] = dict(entry)
            continue
        shared = {k: v for k, v in entry.items() if k != 'archs'}
        groups = (
            arch_groups(backbones[key].arch_zoo) if key in backbones else {})
        for arch, values in entry['archs'].items():
            canonical = next(
                (name for name, aliases in groups.items() if arch in aliases),
                None)
            if canonical is None and key in backbones:
                unmatched.append(f'{key}: {arch}')
            name = f'{key}-{canonical or arch}'
            budget = values.get('budget', shared.get('budget'))
            if budget is not None:  # a dynamic model at its operating point
                name += f'@{budget:g}'
            figures[name] = dict(shared, **values)
    return figures, unmatched


def _decimals(text: str) -> int:
    exponent = decimal.Decimal(str(text)).as_tuple().exponent
    return max(-exponent, 0)


def compare_with_paper(row: dict, paper: dict) -> List[str]:
    """Flags for figures that disagree with the paper's.

    The parameter count is compared at the paper's printed precision
    (an integer in the file is an exact count), adding a 1000-class head
    when the paper's count includes one; MACs are flagged when more than
    :data:`MACS_TOLERANCE` off.
    """
    flags = []
    if paper.get('params') is not None and row.get('params') is not None:
        ours = row['params']
        if paper.get('head', True):
            ours += row['head_params'] or 0
        value = paper['params']
        if isinstance(value, int):
            differs = ours != value
            shown = f'{ours:,} vs {value:,}'
        else:
            digits = _decimals(value)
            differs = round(ours / 1e6, digits) != float(value)
            shown = f'{ours / 1e6:.{digits}f} M vs {value} M'
        if differs:
            flags.append(f'params differ ({shown})')
    if paper.get('macs') is not None and row.get('macs') is not None:
        off = row['macs'] / (float(paper['macs']) * 1e9) - 1
        if abs(off) > MACS_TOLERANCE:
            flags.append(f'MACs {off:+.0%} vs paper')
    return flags


# ------------------------------------------------------------------ rows
def _ratio(value: Optional[float], base: Optional[float]) -> Optional[float]:
    if value is None or not base:
        return None
    return value / base


def pick_baseline(result: dict, baseline: Optional[str] = None) -> str:
    """The baseline's name: ``baseline``, else Swin-T if measured, else the
    first model."""
    names = [m['name'] for m in result['models']]
    if baseline is not None:
        if baseline not in names:
            raise KeyError(f'Baseline {baseline!r} is not among the measured '
                           f'models {names}; add it to the model list')
        return baseline
    return 'Swin-T' if 'Swin-T' in names else names[0]


def table_rows(result: dict,
               baseline: Optional[str] = None,
               paper_figures: Optional[Dict[str, dict]] = None) -> List[dict]:
    """One row per model with its ratios to ``baseline`` and paper figures.

    Args:
        result: Output of :func:`run_benchmark`.
        baseline: Name of the reference model (see :func:`pick_baseline`).
        paper_figures: From :func:`load_paper_figures`; loaded when None.

    Returns:
        list[dict]: Numeric rows (None where a figure is missing); keys are
        ``name``, ``ours``, ``params``, ``head_params``, ``macs``,
        ``mmengine_macs``, ``images_per_s`` (median), ``min``, ``max``,
        ``peak_memory_mb``, ``efficiency``, the ratios ``*_ratio``,
        ``paper`` (dict or None), ``flags`` and ``error``.
    """
    if paper_figures is None:
        paper_figures = load_paper_figures()
    baseline = pick_baseline(result, baseline)
    settings = result['settings']
    matmul_rate = result['matmul']['macs_per_s']
    rows = []
    for model in result['models']:
        speeds = model['images_per_s']
        median = statistics.median(speeds) if speeds else None
        row = dict(
            name=model['name'],
            ours=model['ours'],
            params=model['params'],
            head_params=model['head_params'],
            macs=model['macs'],
            mmengine_macs=model.get('mmengine_macs'),
            images_per_s=median,
            min=min(speeds) if speeds else None,
            max=max(speeds) if speeds else None,
            peak_memory_mb=model['peak_memory_mb'],
            efficiency=(model['macs'] * median /
                        matmul_rate if median and model['macs'] else None),
            error=model['error'])
        paper = paper_figures.get(model['name'])
        if (paper is not None and settings['mode'] == 'cls'
                and paper.get('input') == settings['size']):
            row['paper'] = paper
            row['flags'] = compare_with_paper(row, paper)
        else:
            row['paper'] = None
            row['flags'] = []
        if row['error']:
            row['flags'].append(f'failed: {row["error"]}')
        rows.append(row)
    base = next(r for r in rows if r['name'] == baseline)
    for row in rows:
        for key in ('params', 'macs', 'images_per_s', 'peak_memory_mb'):
            row[f'{key}_ratio'] = _ratio(row[key], base[key])
    return rows


# ------------------------------------------------------------- rendering
def _fmt(value, spec: str, scale: float = 1.) -> str:
    return '-' if value is None else format(value / scale, spec)


def _rate(value: Optional[float]) -> str:
    """Three significant digits, no exponent: 0.345, 14.3, 1234."""
    if value is None:
        return '-'
    if value <= 0:
        return format(value, '.1f')
    return format(value, f'.{max(0, 2 - math.floor(math.log10(value)))}f')


def format_row(row: dict, with_mmengine: bool = False) -> Dict[str, str]:
    """A row as the strings of :data:`COLUMNS` (plus mmengine's count)."""
    paper = row['paper'] or {}
    cells = {
        'model':
        row['name'] + ('' if row['ours'] else ' (host)'),
        'params (M)':
        _fmt(row['params'], '.2f', 1e6),
        'params x':
        _fmt(row['params_ratio'], '.2f'),
        'MACs (G)':
        _fmt(row['macs'], '.2f', 1e9),
        'MACs x':
        _fmt(row['macs_ratio'], '.2f'),
        'images/s':
        _rate(row['images_per_s']),
        'min-max':
        ('-' if row['min'] is None else
         f'{_rate(row["min"])}-{_rate(row["max"])}'),
        'speed x':
        _fmt(row['images_per_s_ratio'], '.2f'),
        'peak mem (MB)':
        _fmt(row['peak_memory_mb'], '.0f'),
        'mem x':
        _fmt(row['peak_memory_mb_ratio'], '.2f'),
        'efficiency':
        _fmt(row['efficiency'], '.0%'),
        'paper params (M)': (_fmt(paper['params'], '.2f', 1e6) if isinstance(
            paper.get('params'), int) else str(paper.get('params', '-'))),
        'paper MACs (G)':
        str(paper.get('macs', '-')),
        'paper top-1':
        str(paper.get('top1', '-')),
        'flags':
        '; '.join(row['flags']) or '-',
    }
    if with_mmengine:
        cells[MMENGINE_COLUMN] = _fmt(row['mmengine_macs'], '.2f', 1e9)
    return cells


def _columns(rows: Sequence[dict]) -> List[str]:
    if any(r['mmengine_macs'] is not None for r in rows):
        at = COLUMNS.index('MACs x') + 1
        return COLUMNS[:at] + [MMENGINE_COLUMN] + COLUMNS[at:]
    return list(COLUMNS)


def _malloc_note(env: dict) -> str:
    # Runs saved before the setting existed have no 'malloc' key.
    return f', malloc {env["malloc"]}' if env.get('malloc') else ''


def header_line(result: dict, baseline: str) -> str:
    """Device, threads, torch, batch, size and method of a run."""
    env, settings = result['environment'], result['settings']
    matmul = result['matmul']
    return (f'device {env["device"]}, threads {env["threads"]}, torch '
            f'{env["torch"]}, {env["dtype"]}, batch {settings["batch"]}, '
            f'{settings["size"]}x{settings["size"]}, mode '
            f'{settings["mode"]}, inference, warm-up {settings["warmup"]}, '
            f'{settings["repeats"]} repeats, channels-last '
            f'{"on" if settings["channels_last"] else "off"}'
            f'{_malloc_note(env)}; {matmul["size"]}^3 matmul '
            f'({matmul.get("kernel", "torch.mm")}): '
            f'{matmul["macs_per_s"] / 1e9:.1f} G MACs/s'
            f'{_other_kernels_note(matmul)}; ratios (x) to {baseline}')


def _other_kernels_note(matmul: dict) -> str:
    """The slower reference candidates (runs saved before they were
    recorded have none)."""
    others = {
        name: rate
        for name, rate in matmul.get('kernel_rates', {}).items()
        if name != matmul.get('kernel')
    }
    return ''.join(f' ({name}: {rate / 1e9:.0f})'
                   for name, rate in others.items())


def to_markdown(result: dict,
                baseline: Optional[str] = None,
                paper_figures: Optional[Dict[str, dict]] = None) -> str:
    """The run as a header line and a Markdown table."""
    baseline = pick_baseline(result, baseline)
    rows = table_rows(result, baseline, paper_figures)
    columns = _columns(rows)
    with_mmengine = MMENGINE_COLUMN in columns
    lines = [
        header_line(result, baseline), '', '| ' + ' | '.join(columns) + ' |',
        '|' + '---|' * len(columns)
    ]
    for row in rows:
        cells = format_row(row, with_mmengine)
        lines.append('| ' + ' | '.join(cells[c].replace('|', '/')
                                       for c in columns) + ' |')
    return '\n'.join(lines)


def write_csv(path: str, rows: Sequence[dict]) -> None:
    """Numeric rows (paper figures flattened) as CSV."""
    fields = [
        'name', 'ours', 'params', 'head_params', 'macs', 'mmengine_macs',
        'images_per_s', 'min', 'max', 'peak_memory_mb', 'efficiency',
        'params_ratio', 'macs_ratio', 'images_per_s_ratio',
        'peak_memory_mb_ratio', 'paper_params', 'paper_macs', 'paper_top1',
        'flags', 'error'
    ]
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            paper = row['paper'] or {}
            writer.writerow(
                dict(
                    row,
                    paper_params=paper.get('params'),
                    paper_macs=paper.get('macs'),
                    paper_top1=paper.get('top1'),
                    flags='; '.join(row['flags'])))


def write_plot(path: str,
               rows: Sequence[dict],
               title: str,
               x_axis: str = 'macs') -> None:
    """Scatter of throughput against MACs (``'macs'``) or paper top-1
    (``'accuracy'``), ours and the hosts' baselines in two colours."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if x_axis not in ('macs', 'accuracy'):
        raise ValueError(f"x_axis must be 'macs' or 'accuracy', got "
                         f'{x_axis!r}')

    def x_value(row):
        if x_axis == 'macs':
            return None if row['macs'] is None else row['macs'] / 1e9
        return (row['paper'] or {}).get('top1')

    points = [(x_value(r), r['images_per_s'], r) for r in rows
              if x_value(r) is not None and r['images_per_s'] is not None]
    fig, ax = plt.subplots(figsize=(7, 5))
    for ours, colour, label in ((True, 'tab:red', 'sparse_backbones'),
                                (False, 'tab:blue', 'host baselines')):
        chosen = [p for p in points if p[2]['ours'] == ours]
        ax.scatter([p[0] for p in chosen], [p[1] for p in chosen],
                   c=colour,
                   label=label)
        for x, y, row in chosen:
            ax.annotate(
                row['name'], (x, y),
                fontsize=7,
                xytext=(3, 3),
                textcoords='offset points')
    ax.set_xlabel('G MACs per image' if x_axis ==
                  'macs' else 'ImageNet top-1 (%, paper)')
    ax.set_ylabel('images/s (median)')
    ax.set_title(textwrap.fill(title, 100), fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(result: dict,
                  out_dir: str,
                  baseline: Optional[str] = None,
                  x_axis: str = 'macs',
                  stem: Optional[str] = None) -> Dict[str, str]:
    """Write ``<stem>.md/.csv/.json/.png`` to ``out_dir``; return the paths.

    The stem defaults to ``benchmark_<mode>_<size>``.
    """
    os.makedirs(out_dir, exist_ok=True)
    settings = result['settings']
    stem = stem or f'benchmark_{settings["mode"]}_{settings["size"]}'
    baseline = pick_baseline(result, baseline)
    rows = table_rows(result, baseline)
    paths = {
        ext: osp.join(out_dir, f'{stem}.{ext}')
        for ext in ('md', 'csv', 'json', 'png')
    }
    with open(paths['md'], 'w') as f:
        f.write(to_markdown(result, baseline) + '\n')
    write_csv(paths['csv'], rows)
    with open(paths['json'], 'w') as f:
        json.dump(dict(result, baseline=baseline, rows=rows), f, indent=1)
    write_plot(paths['png'], rows, header_line(result, baseline), x_axis)
    return paths


# ---------------------------------------------------------------- README
def readme_section(results: Sequence[dict],
                   baseline: Optional[str] = None) -> str:
    """The README's benchmark section: the commands of the runs (each run
    saves its own), then one table per run."""
    commands = list(
        dict.fromkeys(r['command'] for r in results if r.get('command')))
    parts = []
    if commands:
        parts += ['Generated by', '', '```bash', *commands, '```', '']
    for result in results:
        settings = result['settings']
        parts += [
            f'**{settings["size"]} px, {settings["mode"]} mode**', '',
            to_markdown(result, baseline), ''
        ]
    return '\n'.join(parts).rstrip() + '\n'


def replace_marked_block(path: str, name: str, text: str) -> None:
    """Replace what lies between ``<!-- name:start -->`` and
    ``<!-- name:end -->`` in ``path`` with ``text``.

    Raises:
        ValueError: when the file lacks the two markers, saying which.
    """
    start, end = f'<!-- {name}:start -->', f'<!-- {name}:end -->'
    with open(path) as f:
        content = f.read()
    pattern = re.compile(re.escape(start) + r'.*?' + re.escape(end), re.S)
    if not pattern.search(content):
        raise ValueError(f'{path} has no {start} ... {end} block; add the '
                         'two marker lines where the table belongs')
    content = pattern.sub(
        lambda _: f'{start}\n{text.rstrip()}\n{end}', content, count=1)
    with open(path, 'w') as f:
        f.write(content)
