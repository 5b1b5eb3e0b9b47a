# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Result tables of the README from the work directories of test runs.

    python tools/collect_results.py work_dirs/*
    python tools/collect_results.py work_dirs/* --update-readme README.md
    python tools/collect_results.py work_dirs/* --json results.json

Reads the latest test metrics of each WORK_DIR (what tools/test.py leaves:
``<timestamp>/<timestamp>.json`` and the saved config) and prints one table
per dataset: backbone, params, MACs (of the backbone at the task's input
size), metrics, config link. ``--include-val`` falls back on the last
validation of a training run. ``--json`` writes the rows, which
``tools/gen_metafile.py --results`` puts into the model index.
"""
import argparse
import dataclasses
import json
import os.path as osp
import sys
from typing import List, Optional

from sparse_backbones.benchmark.report import replace_marked_block
from sparse_backbones.benchmark.results import collect, tables

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv: Optional[List[str]] = None) -> str:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR')
    parser.add_argument(
        '--include-val',
        action='store_true',
        help='use the last validation where no test ran')
    parser.add_argument(
        '--no-complexity',
        action='store_true',
        help='skip counting params and MACs')
    parser.add_argument('--json', help='write the rows to this file')
    parser.add_argument(
        '--update-readme',
        metavar='README',
        help='rewrite its <!-- results:start/end --> block')
    args = parser.parse_args(argv)
    results = collect(args.work_dirs, args.include_val, not args.no_complexity)
    if not results:
        sys.exit(f'No test results in {args.work_dirs}: run tools/test.py '
                 'CONFIG CHECKPOINT --work-dir DIR first (or pass '
                 '--include-val for training runs)')
    text = tables(results, REPO_ROOT)
    print(text)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump([dataclasses.asdict(r) for r in results], f, indent=1)
    if args.update_readme:
        replace_marked_block(args.update_readme, 'results', text)
        print(f'updated the results block of {args.update_readme}')
    return text


if __name__ == '__main__':
    main()
