# Copyright (c) sparse_backbones contributors. All rights reserved.
"""tools/deploy/export_onnx.py: every design exports from its config, and
onnxruntime (CPU) computes what PyTorch does, every output, at batch 1 and
2 and at two sizes.

The backbones are the small archs of the contract tests
(tests/test_backbones/cases_*.py) inside the shipped configs; random
weights under the autouse seed (tests/conftest.py).
"""
import pytest
import torch

from tests import REPO, load_tool
from tests.test_backbones.cases_dge import CASES as DGE_CASES
from tests.test_backbones.cases_lemevit import CASES as LEMEVIT_CASES
from tests.test_backbones.cases_lit import CASES as LIT_CASES
from tests.test_backbones.cases_ltm import CASES as LTM_CASES

tool = load_tool('deploy/export_onnx.py')

# max|onnx - torch| / max(1, max|torch|), the tool's --tolerance default.
TOLERANCE = 1e-4
ALL_AXES = ('batch', 'height', 'width')

# design: (config whose backbone is replaced, small case, backbone alone of
# a classification config, traced H x W). DGE gets regions of several
# choices (and padded ones) at its size.
DESIGNS = dict(
    lemevit=('configs/seg/upernet_lemevit-tiny_4xb4-80k_potsdam-512x512.py',
             LEMEVIT_CASES[0], False, (64, 64)),
    dge_deit=('configs/cls/dge-deit-tiny_8xb64_aid-256px.py', DGE_CASES[0],
              True, (112, 96)),
    dge_pvt=('configs/det/mask-rcnn_dge-pvt-tiny_fpn_1x_dota.py', DGE_CASES[1],
             False, (112, 96)),
    ltm_vit=('configs/cls/ltm-vit-small_8xb64_aid.py', LTM_CASES[0], True,
             (64, 64)),
    ltm_swin=('configs/seg/upernet_ltm-swin-tiny_4xb4-80k_potsdam-512x512.py',
              LTM_CASES[1], False, (64, 64)),
    lit=('configs/seg/upernet_lit-s_4xb4-80k_potsdam-512x512.py', LIT_CASES[0],
         False, (64, 64)),
    lit_relative=('configs/seg/upernet_lit-s_4xb4-80k_potsdam-512x512.py',
                  LIT_CASES[1], False, (64, 64)),
)
# The axes each design exports dynamic today; the others are fixed by code
# that specialises them while tracing (the tool warns and says why).
# DGE: `len(regions)` in DGEBlock._gate fixes the batch, the region tables
# are cached per (H, W); LIT's relative-position attention on CPU chunks
# its queries by the batch; LTM, LIT: size-dependent branches (padding,
# position-embedding resizing, keep counts) fix H and W.
EXPECTED_AXES = dict(
    lemevit=ALL_AXES,
    dge_deit=('batch', ),
    dge_pvt=('batch', ),
    ltm_vit=('batch', ),
    ltm_swin=('batch', ),
    lit=('batch', ),
    lit_relative=('batch', ),
)
SLOW = ('ltm_swin', 'lit_relative')


def _mode(axes) -> str:
    return {ALL_AXES: 'all', ('batch', ): 'batch', (): 'none'}[tuple(axes)]


def build(design: str):
    """The design's backbone, built from its config with every stage out."""
    config, case, backbone_only, _ = DESIGNS[design]
    cfg = tool.load_export_config(str(REPO / config))
    cfg.model.backbone = dict(case.cfg, out_indices=(0, 1, 2, 3))
    module = tool.build_export_model(cfg, backbone_only=backbone_only)
    for block in module.modules():
        if hasattr(block, 'router'):
            # Every granularity chosen somewhere (the init picks the finest
            # split nearly everywhere).
            torch.nn.init.normal_(block.router.weight, std=1.)
            torch.nn.init.zeros_(block.router.bias)
    return module


def check(rows, sizes, names) -> None:
    """Every output at every size was compared and is within tolerance."""
    assert [(row['input'][0], *row['input'][2:])
            for row in rows[::len(names)]] == list(sizes)
    assert [row['output'] for row in rows] == list(names) * len(sizes)
    worst = max(rows, key=lambda row: row['error'])
    assert worst['error'] <= TOLERANCE, tool.format_rows(rows)


def check_gates_mixed(module) -> None:
    """DGE: the sparse path PyTorch ran used several granularities."""
    stats = getattr(module, 'last_stats', None)
    if stats is not None and stats.gates:
        chosen = torch.cat([gate.flatten() for gate in stats.gates])
        assert chosen.unique().numel() > 1


@pytest.mark.parametrize('design', [
    pytest.param(d, marks=pytest.mark.slow) if d in SLOW else d
    for d in DESIGNS
])
def test_backbone_matches_onnxruntime(design, tmp_path):
    shape = DESIGNS[design][3]
    module = build(design)
    exported = tool.export_onnx(module, str(tmp_path / f'{design}.onnx'),
                                shape, _mode(EXPECTED_AXES[design]))
    assert exported.dynamic == EXPECTED_AXES[design]
    assert exported.output_names == ['stage0', 'stage1', 'stage2', 'stage3']
    assert module.deployed  # the fused inference layers were exported
    if design.startswith('dge'):
        assert any('dense path' in note for note in exported.notes)
    # Batch 1 and 2 where the batch is dynamic; the traced size and
    # another (odd sides, other aspect) where H and W are.
    sizes = tool.verify_sizes(exported, (shape[0] + 29, shape[1] + 45))
    batches = (1, 2) if 'batch' in exported.dynamic else (
        exported.input_shape[0], )
    assert len(sizes) == len(batches) * (2 if 'height' in exported.dynamic else
                                         1)
    rows = tool.verify_onnx(module, exported, sizes)
    check(rows, sizes, exported.output_names)
    check_gates_mixed(module)


@pytest.mark.slow
@pytest.mark.parametrize(
    'design', [d for d in DESIGNS if 'height' not in EXPECTED_AXES[d]])
def test_fixed_size_designs_at_a_second_size(design, tmp_path):
    """A design whose H and W are fixed exports (and matches) at another
    size too."""
    height, width = DESIGNS[design][3]
    shape = (height + 29, width + 45)
    module = build(design)
    exported = tool.export_onnx(module, str(tmp_path / 'second.onnx'), shape,
                                _mode(EXPECTED_AXES[design]))
    assert exported.input_shape[2:] == shape
    sizes = tool.verify_sizes(exported)
    check(
        tool.verify_onnx(module, exported, sizes), sizes,
        exported.output_names)


@pytest.mark.slow
@pytest.mark.parametrize('design', list(DESIGNS))
def test_every_axis_dynamic_or_a_clear_refusal(design, tmp_path):
    """--dynamic all exports every axis dynamic, or refuses saying why and
    what to use instead (never a file with a silently fixed axis)."""
    module = build(design)
    if EXPECTED_AXES[design] == ALL_AXES:
        exported = tool.export_onnx(module, str(tmp_path / 'all.onnx'),
                                    DESIGNS[design][3], 'all')
        assert exported.dynamic == ALL_AXES
        return
    with pytest.raises(RuntimeError, match='cannot trace .* dynamic axes'):
        tool.export_onnx(module, str(tmp_path / 'all.onnx'),
                         DESIGNS[design][3], 'all')
    assert not (tmp_path / 'all.onnx').exists()


def test_auto_falls_back_with_a_warning(tmp_path):
    """--dynamic auto fixes the axes the code specialises, and says so;
    --dynamic all refuses them."""
    module = build('dge_deit')
    with pytest.raises(RuntimeError, match='--dynamic batch'):
        tool.trace(module, DESIGNS['dge_deit'][3], 'all')
    with pytest.warns(UserWarning, match='fixed at the traced size'):
        _, axes, input_shape, notes = tool.trace(
            module, (112, 96), 'auto', batch=3)
    assert axes == ('batch', ) and input_shape == (3, 3, 112, 96)
    assert sum('fixed at the traced size' in note for note in notes) == 1


def _classifier_config(tmp_path) -> str:
    """The LeMeViT classification config with the small arch."""
    case = LEMEVIT_CASES[0]
    backbone = dict(case.cfg, **case.cls_cfg)
    path = tmp_path / 'lemevit_cls.py'
    path.write_text(
        f"_base_ = [{str(REPO / 'configs/cls/lemevit-tiny_8xb64_aid.py')!r}]\n"
        f'model = dict(backbone=dict(_delete_=True, **{backbone!r}))\n')
    return str(path)


def test_classifier_cli_with_checkpoint(tmp_path, capsys):
    """A classification config exports the whole classifier (logits) with
    the checkpoint's weights, and --verify passes."""
    config = _classifier_config(tmp_path)
    model = tool.build_export_model(tool.load_export_config(config))
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(state_dict=model.classifier.state_dict(), meta={}), checkpoint)
    out = tmp_path / 'cls' / 'lemevit.onnx'
    exported = tool.main([
        config,
        str(checkpoint), '--shape', '64', '64', '--out',
        str(out), '--verify', '--seed', '3'
    ])
    assert exported.output_names == ['logits'
                                     ] and exported.dynamic == ('batch', )
    printed = capsys.readouterr().out
    assert 'onnxruntime matches PyTorch' in printed
    assert 'input batchx3x64x64 -> logits' in printed
    # The file holds the checkpoint's weights, not the seed's.
    import onnxruntime as ort
    session = ort.InferenceSession(
        str(out), providers=['CPUExecutionProvider'])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
    got = torch.from_numpy(session.run(None, {'input': x.numpy()})[0])
    assert got.shape == (2, 30)
    assert (got -
            expected).abs().max() <= TOLERANCE * max(1.,
                                                     expected.abs().max())


def test_checkpoint_of_another_model_is_refused(tmp_path):
    config = _classifier_config(tmp_path)
    checkpoint = tmp_path / 'other.pth'
    torch.save(dict(state_dict=dict(weight=torch.zeros(1))), checkpoint)
    with pytest.raises(ValueError, match='does not fit the model'):
        tool.main([config, str(checkpoint), '--out', str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()


def test_missing_onnx_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__('sys').modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match='requirements/deploy.txt'):
        tool.main(
            [_classifier_config(tmp_path), '--out',
             str(tmp_path / 'x.onnx')])
