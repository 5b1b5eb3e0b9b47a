# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The CUDA-only paths: every backbone on the GPU in float32 and under
autocast, SDPA's fused kernels against the explicit products, and
torchvision's CUDA deformable convolution against the plain-PyTorch oracle.

Marked ``cuda``: ``make test`` leaves them out, ``make test-gpu`` runs them
(and stops first, saying why, on a machine without CUDA).
"""
import copy

import pytest
import torch

from sparse_backbones.layers.attention import (attention_reference,
                                               multi_head_attention)
from sparse_backbones.layers.deform import (deform_conv2d,
                                            deform_conv2d_reference)
from sparse_backbones.registry import MODELS

from tests.test_backbones.cases import CASES
from tests.test_backbones.test_mixed_precision import (IDS, TOLERANCES,
                                                       _relative_error)

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _cuda_float32():
    if not torch.cuda.is_available():
        pytest.fail('needs a CUDA device (torch.cuda.is_available() is '
                    'False): run `make test-gpu` on a GPU machine')
    # TF32 convolutions would differ from the CPU's float32 by ~1e-3.
    saved = torch.backends.cudnn.allow_tf32, \
        torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, \
        torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_backbone_on_cuda_equals_cpu(case):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(case.cfg)).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = model(images)
        outs = model.cuda()(images.cuda())
    assert len(outs) == len(reference)
    for out, ref in zip(outs, reference):
        assert out.is_cuda
        assert _relative_error(out.cpu(), ref) < 1e-4


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16],
                         ids=['bf16', 'fp16'])
@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_backbone_trains_under_cuda_autocast(case, dtype):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(case.cfg)).cuda().train()
    images = torch.randn(2, 3, 64, 64, device='cuda')

    def step(autocast_dtype):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # the same drop path and routing draws
        with torch.autocast('cuda', dtype=autocast_dtype,
                            enabled=autocast_dtype is not None):
            outs = model(images)
            loss = sum(out.float().square().mean() for out in outs)
        loss.backward()
        grads = torch.cat([
            p.grad.flatten() for p in model.parameters() if p.grad is not None
        ])
        return outs, grads

    reference_outs, reference_grads = step(None)
    outs, grads = step(dtype)
    out_tolerance, grad_tolerance = TOLERANCES[dtype]
    for out, ref in zip(outs, reference_outs):
        assert torch.isfinite(out).all()
        assert _relative_error(out, ref) < out_tolerance
    assert torch.isfinite(grads).all()
    assert _relative_error(grads, reference_grads) < grad_tolerance


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16,
                                   torch.float16])
@pytest.mark.parametrize('with_bias', [False, True])
def test_sdpa_kernels_equal_the_explicit_products(dtype, with_bias):
    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 4, n, 32, device='cuda')
                         for n in (49, 196, 196))
    bias = torch.randn(1, 4, 49, 196, device='cuda') if with_bias else None
    reference = attention_reference(query, key, value, 32**-0.5, bias)
    out = multi_head_attention(
        *(t.to(dtype) for t in (query, key, value)), 32**-0.5,
        None if bias is None else bias.to(dtype))
    tolerance = dict([(torch.float32, 1e-5), (torch.bfloat16, 2e-2),
                      (torch.float16, 3e-3)])[dtype]
    assert out.dtype == dtype
    assert _relative_error(out, reference) < tolerance


def test_torchvision_cuda_deform_conv_equals_the_oracle():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 14, 14, device='cuda', requires_grad=True)
    weight = torch.randn(32, 16, 2, 2, device='cuda', requires_grad=True)
    offset = (torch.randn(2, 8, 7, 7, device='cuda') * 3).requires_grad_()
    out = deform_conv2d(x, offset, weight, stride=2)
    reference = deform_conv2d_reference(x, offset, weight, stride=2)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)
    grads = torch.autograd.grad(out.square().sum(), (x, weight, offset))
    reference_grads = torch.autograd.grad(reference.square().sum(),
                                          (x, weight, offset))
    for grad, ref in zip(grads, reference_grads):
        assert _relative_error(grad, ref) < 1e-4
