# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Params, MACs, throughput, memory and efficiency of backbones, side by side.

    python tools/benchmark.py                      # every arch of ours + hosts
    python tools/benchmark.py LeMeViT-small Swin-T --batch 16 --threads 2
    python tools/benchmark.py --size 224 512 1024 --out-dir work_dirs/bench \\
        --update-readme README.md
    python tools/benchmark.py --from-json work_dirs/bench/*.json \\
        --update-readme README.md                  # re-render, no measuring
    python tools/benchmark.py LeMeViT-small --breakdown --threads 2
                                  # where the CPU time goes, by op kind

MODEL is a display name (``LeMeViT-small``, ``DeiT-S``, ``PVT-S``,
``PVTv2-b1``, ``PVTv2-b2``, ``Swin-T``; ``--list`` prints them) or
``registry_type[:arch]`` built with the type's defaults. All models are built
in this process and timed in turn, repeat after repeat, with a large fp32
matrix multiply as the machine's reference rate; every figure is also given
as a ratio to the baseline (``--baseline``, default Swin-T) of the same run.
Size 224 measures the classification output, larger sizes every stage map
(``--mode`` overrides). See sparse_backbones/benchmark/measure.py for how
each figure is measured.
"""
import argparse
import json
import shlex
import sys
from typing import List, Optional

from sparse_backbones.benchmark import (Settings, breakdown_table,
                                        readme_section, replace_marked_block,
                                        resolve_specs, run_benchmark,
                                        to_markdown, write_outputs)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument(
        'models',
        nargs='*',
        metavar='MODEL',
        help='models to compare (default: every arch of ours + baselines)')
    parser.add_argument(
        '--size',
        type=int,
        nargs='+',
        default=[224],
        help='square input sizes, one table each')
    parser.add_argument(
        '--mode',
        choices=['cls', 'dense'],
        help='cls: classification output; dense: all stage '
        'maps (default: cls at 224 px, dense above)')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--no-deploy',
        action='store_true',
        help='time the reference layers instead of switch_to_deploy()\'s '
        'fused inference layers')
    parser.add_argument(
        '--dtype',
        choices=['fp32', 'bf16', 'fp16'],
        default='fp32',
        help='bf16/fp16: autocast on the device, with the reference GEMM '
        'in the same type')
    parser.add_argument(
        '--amp', action='store_true', help='the same as --dtype fp16')
    parser.add_argument(
        '--matmul-size',
        type=int,
        default=None,
        help='reference matmul side (2048 CPU, 8192 CUDA)')
    parser.add_argument(
        '--mmengine-macs',
        action='store_true',
        help="add mmengine's tracing MAC count as a "
        'cross-check column')
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='skip peak memory (on CPU one process per model)')
    parser.add_argument(
        '--default-malloc',
        action='store_true',
        help="keep glibc's default malloc thresholds on CPU (by default "
        'freed memory is kept for reuse, see '
        'sparse_backbones/utils/allocator.py)')
    parser.add_argument(
        '--baseline',
        default=None,
        help='model the ratios refer to (default: Swin-T if '
        'measured, else the first model)')
    parser.add_argument('--out-dir', help='write .md/.csv/.json/.png here')
    parser.add_argument(
        '--plot-x',
        choices=['macs', 'accuracy'],
        default='macs',
        help='x axis of the plot (accuracy: paper top-1)')
    parser.add_argument(
        '--update-readme',
        metavar='README',
        help='rewrite its <!-- benchmark:start/end --> block')
    parser.add_argument(
        '--from-json',
        nargs='+',
        metavar='JSON',
        help='render saved runs instead of measuring')
    parser.add_argument(
        '--list',
        action='store_true',
        help='print the default model names and exit')
    parser.add_argument(
        '--breakdown',
        action='store_true',
        help='instead of the table: per model, CPU time and MACs of linear '
        'layers, attention products, convolutions and the rest, and the '
        'efficiency if the rest took no time')
    return parser.parse_args(argv)


def mode_for(args: argparse.Namespace, size: int) -> str:
    """``--mode``, else classification at 224 px and dense above."""
    return args.mode or ('cls' if size <= 224 else 'dense')


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    if args.list:
        print('\n'.join(spec.name for spec in resolve_specs()))
        return []
    if args.breakdown:
        if args.device != 'cpu':
            sys.exit('--breakdown times ops on the host clock: CPU only '
                     '(drop --device cuda)')
        specs = resolve_specs(args.models)
        for size in args.size:
            print(
                breakdown_table(specs, size, mode_for(args, size), args.batch,
                                args.threads, args.repeats,
                                not args.no_deploy),
                '\n',
                flush=True)
        return []
    if args.from_json:
        results = []
        for path in args.from_json:
            with open(path) as f:
                results.append(json.load(f))
    else:
        specs = resolve_specs(args.models)
        results = []
        for size in args.size:
            settings = Settings(
                size=size,
                mode=mode_for(args, size),
                batch=args.batch,
                repeats=args.repeats,
                warmup=args.warmup,
                device=args.device,
                threads=args.threads,
                channels_last=args.channels_last,
                dtype='fp16' if args.amp else args.dtype,
                matmul_size=args.matmul_size
                or (8192 if args.device == 'cuda' else 2048),
                mmengine_macs=args.mmengine_macs,
                memory=not args.no_memory,
                deploy=not args.no_deploy,
                keep_freed_memory=not args.default_malloc)
            result = run_benchmark(specs, settings)
            result['command'] = 'python tools/benchmark.py ' + shlex.join(
                sys.argv[1:] if argv is None else argv)
            results.append(result)
            print(to_markdown(result, args.baseline), '\n', flush=True)
            if args.out_dir:
                paths = write_outputs(result, args.out_dir, args.baseline,
                                      args.plot_x)
                print('wrote ' + ', '.join(paths.values()), '\n')
    if args.update_readme:
        replace_marked_block(
            args.update_readme, 'benchmark',
            readme_section(results, args.baseline))
        print(f'updated the benchmark block of {args.update_readme}')
    elif args.from_json:
        print(readme_section(results, args.baseline))
    failed = [
        m['name'] for r in results for m in r['models'] if m.get('error')
    ]
    if failed:
        print(
            f'failed: {failed} (errors above and in the flags column)',
            file=sys.stderr)
        sys.exit(1)
    return results


if __name__ == '__main__':
    main()
