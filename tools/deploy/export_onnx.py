# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Export the model of a config to ONNX and check it with onnxruntime.

    python tools/deploy/export_onnx.py \\
        configs/seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py CKPT \\
        --shape 512 512 --out work_dirs/lemevit-tiny.onnx --verify
    python tools/deploy/export_onnx.py configs/cls/lemevit-tiny_8xb64_aid.py \\
        CKPT --shape 224 224 --out work_dirs/lemevit-tiny_cls.onnx --verify

What is exported:

- a classification config: the whole classifier, images to logits
  (``logits``), unless ``--backbone-only``;
- a detection or segmentation config: the backbone alone, every map it
  returns (``stage{i}``, one per ``out_indices`` entry).

The input (``input``, N x 3 x H x W) is the image as the model sees it
after the config's ``data_preprocessor``, whose normalisation and channel
order are not in the graph (as in mmdeploy; the tool prints them). The
batch is dynamic, and for backbones returning maps also H and W (then any
size above the coarsest stride, e.g. > 32 px for the pyramids). A design
whose code fixes an axis while tracing gets it fixed at the traced size,
with a warning saying why (``--dynamic auto``, the default; ``--dynamic
all`` refuses instead). Today: LeMeViT exports every axis dynamic, DGE,
LTM and LIT the batch (padding to window and patch multiples, position
resizing and merge counts branch on H and W).

The backbones are switched to their fused inference layers first
(``switch_to_deploy()``, ``--no-deploy`` keeps the reference layers), and
traced along their reference paths (the layers check
``torch.compiler.is_exporting()``): the CPU kernels chosen per call (oneDNN
fused ops, explicit or SDPA attention) would be frozen into the graph with
the size they were chosen for, and DGE's sparse path, whose query count
depends on the data, is traced as its dense path (every granularity
computed, the router's argmax selects: the same function).

``--verify`` runs the file with onnxruntime (CPU) at batch 1 and 2 (if the
batch is dynamic) and at two sizes (if H and W are), and compares every
output with PyTorch's (the model as exported, on its own fast paths): the
error is ``max |onnx - torch| / max(1, max |torch|)``, which must stay
within ``--tolerance`` (1e-4).

The exporter is torch.export + ``torch.onnx.export(dynamo=True)`` (needs
onnxscript): it refuses a dynamic axis the model's code would silently fix,
where the TorchScript exporter bakes it into the graph. Needs
``pip install -r requirements/deploy.txt``.
"""
import argparse
import dataclasses
import os
import os.path as osp
import re
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction

import sparse_backbones  # noqa: F401  (registers the modules)
from sparse_backbones.backbones import BaseSparseBackbone, deploy
from sparse_backbones.demo import demo_task
from sparse_backbones.layers.dge import \
    _region_layout  # cached per grid; cleared after tracing
from sparse_backbones.models import sync_in_channels
from sparse_backbones.utils.checkpoint import check_checkpoint_fits
from sparse_backbones.utils.safe_load import enable_safe_checkpoint_loading

# Names the file gives its axes (torch.export calls them s0, s1 ...), and
# their dimension of the N x C x H x W input.
AXES = ('batch', 'height', 'width')
AXIS_DIMS = dict(batch=0, height=2, width=3)
DYNAMIC_CHOICES = ('auto', 'all', 'batch', 'none')
DEPLOY_REQUIREMENTS = 'pip install -r requirements/deploy.txt'


@dataclasses.dataclass
class Exported:
    """What :func:`export_onnx` wrote.

    Attributes:
        path (str): The ONNX file.
        input_shape (tuple): The traced (N, C, H, W).
        dynamic (tuple[str]): The dynamic axes of the input, among
            :data:`AXES`.
        output_names (list[str]): One per output, in order.
        notes (list[str]): How the graph differs from the eager model's
            path, and the axes that had to stay fixed, and why.
    """
    path: str
    input_shape: Tuple[int, int, int, int]
    dynamic: Tuple[str, ...]
    output_names: List[str]
    notes: List[str] = dataclasses.field(default_factory=list)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='config file (configs/*/)')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint of the config\'s model (tools/train.py); without '
        'one, random weights (--seed)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=(224, 224),
        metavar=('H', 'W'),
        help='input size traced (and the size of any fixed axis)')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument(
        '--opset', type=int, default=18, help='ONNX opset version')
    parser.add_argument(
        '--dynamic',
        choices=DYNAMIC_CHOICES,
        default='auto',
        help='dynamic axes: all (batch, plus H and W for maps), batch, '
        'none, or auto: all, else as many as the design allows, with a '
        'warning')
    parser.add_argument(
        '--batch',
        type=int,
        default=1,
        help='batch of an export with a fixed batch')
    parser.add_argument(
        '--backbone-only',
        action='store_true',
        help='classification configs: export the backbone alone (set '
        'model.backbone.out_type=featmap for its maps)')
    parser.add_argument(
        '--no-deploy',
        action='store_true',
        help="export the reference layers instead of switch_to_deploy()'s "
        'fused inference layers')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='compare onnxruntime (CPU) with PyTorch on random inputs')
    parser.add_argument(
        '--verify-shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='second size --verify runs if H and W are dynamic (default: '
        '--shape + (37, 13), odd sides that every padding path sees)')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest max|onnx - torch| / max(1, max|torch|) --verify '
        'accepts')
    parser.add_argument(
        '--seed', type=int, default=0, help='random weights and inputs')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if min(args.shape) <= 0 or args.batch <= 0:
        parser.error('--shape and --batch need positive values')
    if not args.out.endswith('.onnx'):
        parser.error(f'--out must name a .onnx file, got {args.out!r}')
    return args


def require_onnx() -> None:
    """Refuse, saying what to install, if the export's packages are
    missing."""
    missing = []
    for name in ('onnx', 'onnxscript', 'onnxruntime'):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f'ONNX export needs {", ".join(missing)}, which '
                          f'this environment lacks: {DEPLOY_REQUIREMENTS}')


# ------------------------------------------------------------------ model --
def load_export_config(path: str,
                       cfg_options: Optional[dict] = None) -> Config:
    """The config, with ``--cfg-options`` merged and the heads' channels
    following the backbone."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    sync_in_channels(cfg)
    return cfg


class Logits(nn.Module):
    """A classifier as images -> logits (mmpretrain's ``mode='tensor'``)."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x, mode='tensor')


def build_export_model(cfg: Config,
                       checkpoint: Optional[str] = None,
                       backbone_only: bool = False) -> nn.Module:
    """The module to export, in eval mode: :class:`Logits` of the
    classifier of a classification config, else the backbone.

    A checkpoint (of the config's whole model, as tools/train.py writes it)
    is checked with :func:`check_checkpoint_fits` and loaded under
    ``weights_only=True``; without one the weights are random.
    """
    from mmengine.registry import MODELS, init_default_scope
    task = demo_task(cfg)
    whole = task == 'cls' and not backbone_only
    if checkpoint is None and not whole:
        from sparse_backbones.registry import MODELS as OUR_MODELS
        return OUR_MODELS.build(cfg.model.backbone).eval()
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        from mmengine.runner import load_checkpoint
        enable_safe_checkpoint_loading()  # checkpoints of tools/train.py
        check_checkpoint_fits(model, checkpoint)
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    model.eval()
    return Logits(model) if whole else model.backbone


def _backbone(module: nn.Module) -> Optional[BaseSparseBackbone]:
    return next(
        (m for m in module.modules() if isinstance(m, BaseSparseBackbone)),
        None)


def output_names(module: nn.Module) -> List[str]:
    """``logits`` of a classifier, ``stage{i}`` per map of a backbone."""
    if isinstance(module, Logits):
        return ['logits']
    backbone = _backbone(module)
    if backbone is None or backbone.out_type != 'featmap':
        return ['features']
    return [f'stage{i}' for i in backbone.out_indices]


def returns_maps(module: nn.Module) -> bool:
    """Whether the module is a backbone returning maps (dynamic H, W)."""
    return not isinstance(module, Logits) and output_names(module) != [
        'features'
    ]


def min_side(module: nn.Module) -> int:
    """Smallest H, W of a dynamic export: the coarsest map at least 2x2
    (torch.export specialises a side of 1)."""
    backbone = _backbone(module)
    return max(backbone.stage_strides if backbone else (32, )) + 1


# ----------------------------------------------------------------- export --
def export_notes(module: nn.Module) -> List[str]:
    """What the graph runs differently from eager PyTorch.

    The layers trace their reference paths while exporting
    (``torch.compiler.is_exporting()``): no oneDNN fused ops, the explicit
    attention products at every size, and DGE's dense path, since the
    sparse path's query count depends on the data.
    """
    if any(getattr(m, 'sparse_inference', False) for m in module.modules()):
        return [
            'DGE: exported the dense path (every query granularity '
            'computed, the router\'s argmax selects), the same function as '
            'the sparse path, whose query count depends on the data'
        ]
    return []


def _dims(axes: Sequence[str], low: int) -> Dict[int, 'torch.export.Dim']:
    Dim = torch.export.Dim
    return {
        AXIS_DIMS[axis]: Dim(axis) if axis == 'batch' else Dim(axis, min=low)
        for axis in axes
    }


def _reason(error: BaseException) -> str:
    """Why torch.export refused: its first two violated guards, else the
    first line of the error."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    items = [line for line in lines if line.startswith('- ')]
    return f'{type(error).__name__}: ' + ' '.join(
        items[:2] if items else lines[:1])[:400]


def trace(
    module: nn.Module,
    shape: Tuple[int, int],
    dynamic: str = 'auto',
    batch: int = 1
) -> Tuple['torch.export.ExportedProgram', Tuple[str, ...], Tuple[
        int, int, int, int], List[str]]:
    """torch.export of ``module`` with as many dynamic axes as ``dynamic``
    asks (see ``--dynamic``).

    Returns:
        tuple: The program, its dynamic axes, the traced input shape and the
        notes.
    """
    if dynamic not in DYNAMIC_CHOICES:
        raise ValueError(f'dynamic must be one of {DYNAMIC_CHOICES}, got '
                         f'{dynamic!r}')
    full = AXES if returns_maps(module) else AXES[:1]
    attempts = dict(
        auto=[full, ('batch', ), ()],
        all=[full],
        batch=[('batch', )],
        none=[()])[dynamic]
    attempts = list(dict.fromkeys(attempts))
    low = min_side(module)
    if any('height' in axes for axes in attempts) and min(shape) < low:
        raise ValueError(f'--shape {shape[0]} {shape[1]} is below the '
                         f'smallest size of a dynamic export ({low}); '
                         f'trace a larger one')
    notes: List[str] = []
    for i, axes in enumerate(attempts):
        # A traced batch of 1 would be specialised.
        n = max(2, batch) if 'batch' in axes else batch
        example = torch.randn(n, 3, *shape)
        try:
            with torch.no_grad():
                # Fills the caches (DGE's region tables) with real tensors,
                # which the graph takes as constants; tables built while
                # tracing would hold torch.export's fake tensors.
                module(example)
                try:
                    program = torch.export.export(
                        module, (example, ),
                        dynamic_shapes=(_dims(axes, low), ),
                        strict=False)
                finally:
                    _region_layout.cache_clear()
        except Exception as error:  # noqa: BLE001  (reported below)
            if i == len(attempts) - 1:
                others = [
                    f'--dynamic {mode}' for mode in ('batch', 'none')
                    if mode != dynamic and dynamic != 'auto'
                ]
                raise RuntimeError(
                    f'torch.export cannot trace {type(module).__name__} with '
                    f'dynamic axes {axes or "none"}: {_reason(error)}' +
                    (f'; try {" or ".join(others)}' if others else '')
                ) from error
            lost = sorted(set(axes) - set(attempts[i + 1]), key=AXES.index)
            note = (f'{", ".join(lost)} fixed at the traced size: the model '
                    f'code specialises it ({_reason(error)})')
            warnings.warn(note)
            notes.append(note)
            continue
        return program, axes, tuple(example.shape), export_notes(
            module) + notes
    raise AssertionError('unreachable')


def _rename_axes(path: str, program, axes: Sequence[str]) -> None:
    """Give the file's dynamic axes their names (batch, height, width)
    instead of torch.export's symbols, in every shape that uses them."""
    import onnx
    shape = next(node.meta['val'].shape for node in program.graph.nodes
                 if node.op == 'placeholder'
                 and node.name in program.graph_signature.user_inputs)
    names = {}
    for axis in axes:
        symbol = str(shape[AXIS_DIMS[axis]])
        if re.fullmatch(r's\d+', symbol):
            names[symbol] = axis
    if not names:
        return
    pattern = re.compile(r'\b(' + '|'.join(map(re.escape, names)) + r')\b')
    model = onnx.load(path)
    graph = model.graph
    for value in [*graph.input, *graph.output, *graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = pattern.sub(lambda m: names[m.group(1)],
                                            dim.dim_param)
    onnx.save(model, path)


def export_onnx(module: nn.Module,
                out: str,
                shape: Tuple[int, int] = (224, 224),
                dynamic: str = 'auto',
                opset: int = 18,
                batch: int = 1,
                switch_to_deploy: bool = True) -> Exported:
    """Export ``module`` (see :func:`build_export_model`) to ``out``.

    Args:
        module (nn.Module): A backbone or :class:`Logits`; switched to its
            fused inference layers in place unless ``switch_to_deploy`` is
            False.
        out (str): The .onnx file (weights inside; parents are created).
        shape (tuple[int, int]): The traced H, W.
        dynamic (str): One of :data:`DYNAMIC_CHOICES` (``--dynamic``).
        opset (int): ONNX opset version.
        batch (int): The batch of an export whose batch is fixed.
        switch_to_deploy (bool): Fuse the layers first. Defaults to True.

    Returns:
        Exported: The file, its dynamic axes and notes.
    """
    require_onnx()
    module.eval()
    if switch_to_deploy:
        deploy(module)
    program, axes, input_shape, notes = trace(module, tuple(shape), dynamic,
                                              batch)
    names = output_names(module)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', module='onnxscript')
        torch.onnx.export(
            program,
            f=out,
            input_names=['input'],
            output_names=names,
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False)
    _rename_axes(out, program, axes)
    return Exported(out, input_shape, tuple(axes), names, notes)


# ----------------------------------------------------------------- verify --
def _as_list(outputs) -> List[torch.Tensor]:
    return [outputs] if isinstance(outputs, torch.Tensor) else list(outputs)


def verify_sizes(
        exported: Exported,
        second: Optional[Tuple[int,
                               int]] = None) -> List[Tuple[int, int, int]]:
    """(batch, H, W) that :func:`verify_onnx` runs by default: batch 1 and
    2 if the batch is dynamic, the traced size and ``second`` (default
    traced + (37, 13)) if H and W are."""
    n, _, h, w = exported.input_shape
    batches = (1, 2) if 'batch' in exported.dynamic else (n, )
    sizes = [(h, w)]
    if 'height' in exported.dynamic:
        sizes.append(tuple(second) if second else (h + 37, w + 13))
    return [(b, *size) for size in sizes for b in batches]


@torch.no_grad()
def verify_onnx(module: nn.Module,
                exported: Exported,
                sizes: Sequence[Tuple[int, int, int]],
                seed: int = 0) -> List[dict]:
    """Compare onnxruntime (CPU) with ``module`` on random inputs.

    Args:
        module (nn.Module): The exported module, as it runs in PyTorch.
        exported (Exported): What :func:`export_onnx` returned.
        sizes (Sequence[tuple]): (batch, H, W) to run.
        seed (int): Seed of the inputs.

    Returns:
        list[dict]: Per size and output: ``input`` (shape), ``output``
        (name), ``max_abs_error``, ``scale`` (max(1, max|torch|)) and
        ``error`` (their ratio, what a tolerance is compared with).

    Raises:
        ValueError: onnxruntime returned another number or shape of
            outputs.
    """
    require_onnx()
    import onnxruntime as ort
    session = ort.InferenceSession(
        exported.path, providers=['CPUExecutionProvider'])
    generator = torch.Generator().manual_seed(seed)
    channels = exported.input_shape[1]
    rows = []
    for batch, h, w in sizes:
        x = torch.randn(batch, channels, h, w, generator=generator)
        expected = _as_list(module(x))
        got = session.run(None, {'input': x.numpy()})
        if len(got) != len(expected):
            raise ValueError(f'onnxruntime returned {len(got)} outputs, '
                             f'PyTorch {len(expected)}')
        for name, ours, theirs in zip(exported.output_names, got, expected):
            theirs = theirs.float().numpy()
            if ours.shape != theirs.shape:
                raise ValueError(
                    f'{name} at input {tuple(x.shape)}: onnxruntime gives '
                    f'{ours.shape}, PyTorch {theirs.shape}')
            error = float(abs(ours - theirs).max())
            scale = max(1.0, float(abs(theirs).max()))
            rows.append(
                dict(
                    input=tuple(x.shape),
                    output=name,
                    max_abs_error=error,
                    scale=scale,
                    error=error / scale))
    return rows


def format_rows(rows: Sequence[dict]) -> str:
    lines = ['input            output     max|onnx-torch|  / max(1,|torch|)']
    for row in rows:
        lines.append(f'{str(row["input"]):16} {row["output"]:10} '
                     f'{row["max_abs_error"]:15.3e}  {row["error"]:.3e}')
    return '\n'.join(lines)


# -------------------------------------------------------------------- run --
def main(argv: Optional[List[str]] = None) -> Exported:
    args = parse_args(argv)
    require_onnx()
    cfg = load_export_config(args.config, args.cfg_options)
    torch.manual_seed(args.seed)
    if args.checkpoint is None:
        warnings.warn('no checkpoint: exporting random weights (--seed '
                      f'{args.seed})')
    module = build_export_model(cfg, args.checkpoint, args.backbone_only)
    exported = export_onnx(module, args.out, tuple(args.shape), args.dynamic,
                           args.opset, args.batch, not args.no_deploy)
    n, c, h, w = exported.input_shape
    fixed = {'batch': n, 'height': h, 'width': w}
    dims = [
        axis if axis in exported.dynamic else str(fixed[axis]) for axis in AXES
    ]
    print(f'wrote {exported.path} ({osp.getsize(exported.path) / 2**20:.1f} '
          f'MiB, opset {args.opset}): input {dims[0]}x{c}x{dims[1]}x'
          f'{dims[2]} -> {", ".join(exported.output_names)}')
    if 'height' in exported.dynamic:
        print(f'H and W: any from {min_side(module)} px')
    preprocessor = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}
    steps = {
        key: preprocessor[key]
        for key in ('mean', 'std', 'to_rgb', 'bgr_to_rgb', 'rgb_to_bgr')
        if key in preprocessor
    }
    if steps:
        print(f'input: images after the data_preprocessor {steps}')
    for note in exported.notes:
        print(f'note: {note}')
    if args.verify:
        rows = verify_onnx(module, exported,
                           verify_sizes(exported, args.verify_shape),
                           args.seed)
        print(format_rows(rows))
        worst = max(rows, key=lambda row: row['error'])
        if worst['error'] > args.tolerance:
            raise SystemExit(
                f'onnxruntime differs from PyTorch: {worst["output"]} at '
                f'input {worst["input"]} by {worst["error"]:.2e} (relative '
                f'to max(1, max|torch|)) > --tolerance {args.tolerance}')
        print(f'onnxruntime matches PyTorch within {args.tolerance} '
              f'(worst {worst["error"]:.2e})')
    return exported


if __name__ == '__main__':
    main()
