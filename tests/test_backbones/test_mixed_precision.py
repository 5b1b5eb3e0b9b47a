# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Every backbone trains under ``torch.autocast`` in bfloat16 and float16.

Forward and backward in training mode (drop path, DGE's Gumbel routing,
LTM's merge masks, LIT's deformable offsets all active), compared with
float32 on the same random draws. The tolerances are about twice the
largest relative error measured over the cases (2-core EPYC, torch 2.14):
outputs 1.3e-2 (bfloat16) and 1.9e-3 (float16), all gradients together
2.9e-2 and 1.3e-2. Inputs scaled by 1000 make the stem's activations
square past float16's range inside the norms. The float32 regions these
rely on are tested on adversarial inputs in
``tests/test_layers/test_mixed_precision.py``.
"""
import copy

import pytest
import torch

from sparse_backbones.registry import MODELS

from .cases import CASES

IDS = [
    c.name + ('-' + c.cfg['arch']['position']
              if 'position' in c.cfg.get('arch', {}) else '') for c in CASES
]
# dtype -> (output, gradient) relative-error tolerance.
TOLERANCES = {
    torch.bfloat16: (3e-2, 6e-2),
    torch.float16: (5e-3, 3e-2),
}


def _relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    ours, reference = ours.float(), reference.float()
    return ((ours - reference).norm() / reference.norm()).item()


def _train_step(model, images: torch.Tensor, dtype=None):
    """Outputs and parameter gradients of one forward/backward pass."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same drop path and routing draws
    with torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
        outs = model(images)
        loss = sum(out.float().square().mean() for out in outs)
    loss.backward()
    grads = {
        name: param.grad
        for name, param in model.named_parameters() if param.grad is not None
    }
    return outs, grads


# Scaled inputs only for float16: bfloat16 has float32's range.
@pytest.mark.parametrize('dtype, input_scale', [(torch.bfloat16, 1),
                                                (torch.float16, 1),
                                                (torch.float16, 1000)],
                         ids=['bf16', 'fp16', 'fp16-x1000'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_autocast_training_step_matches_float32(case, dtype, input_scale):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(case.cfg)).train()
    images = torch.randn(2, 3, 64, 64) * input_scale
    reference_outs, reference_grads = _train_step(model, images)
    outs, grads = _train_step(model, images, dtype)

    out_tolerance, grad_tolerance = TOLERANCES[dtype]
    assert len(outs) == len(reference_outs)
    for out, reference in zip(outs, reference_outs):
        assert torch.isfinite(out).all()
        assert _relative_error(out, reference) < out_tolerance
    assert grads.keys() == reference_grads.keys()
    for name, grad in grads.items():
        assert torch.isfinite(grad).all(), name
    # Gradients as one vector: single small tensors (a bias that barely
    # moves the loss) carry no meaning of their own.
    assert _relative_error(
        torch.cat([g.flatten() for g in grads.values()]),
        torch.cat([reference_grads[n].flatten()
                   for n in grads])) < grad_tolerance


# DGE-PVT is left out: its padded-grid region means come out float32 in a
# bfloat16 model (the layout's count table is float32), which its router
# refuses; that predates the float32 regions and is reported, not hidden.
PURE_DTYPE_CASES = [c for c in CASES if c.name != 'DGEPVT']


@pytest.mark.parametrize(
    'case', PURE_DTYPE_CASES,
    ids=[i for c, i in zip(CASES, IDS) if c.name != 'DGEPVT'])
def test_model_converted_to_bfloat16_runs_in_bfloat16(case):
    """Without autocast, a model moved to bfloat16 keeps its dtype: the
    float32 regions apply under autocast only."""
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(case.cfg)).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(images)
        outs = model.to(torch.bfloat16)(images.to(torch.bfloat16))
    for out, ref in zip(outs, reference):
        assert out.dtype == torch.bfloat16
        assert torch.isfinite(out).all()
        assert _relative_error(out, ref) < 5e-2
