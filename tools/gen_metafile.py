# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Write configs/{cls,det,seg}/metafile.yml and model-index.yml.

    python tools/gen_metafile.py
    python tools/gen_metafile.py --results results.json   # with metrics

One OpenMMLab model-index entry per config under configs/ (``_base_``
excluded), with the backbone's parameters and multiply-adds at the task's
input size; ``--results`` adds the test metrics collected by
``tools/collect_results.py --json``.
"""
import argparse
import json
import os.path as osp
from typing import List, Optional

from sparse_backbones.benchmark.metafile import write_metafiles
from sparse_backbones.benchmark.results import RunResult, metafile_results

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv: Optional[List[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repo-root', default=REPO_ROOT)
    parser.add_argument('--results', help='JSON of collect_results.py')
    args = parser.parse_args(argv)
    results = None
    if args.results:
        with open(args.results) as f:
            results = metafile_results([RunResult(**r) for r in json.load(f)])
    written = write_metafiles(args.repo_root, results=results)
    print('wrote ' + ', '.join(written))
    return written


if __name__ == '__main__':
    main()
