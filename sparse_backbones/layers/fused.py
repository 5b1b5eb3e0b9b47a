# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Fused inference modules and the deploy switch that installs them.

The modules of an unswitched model are the reference path: forward code
calls ``module(x)`` everywhere, so forward hooks, LoRA-style wrappers,
pruning and quantisation tools see every layer. :func:`deploy` (and each
backbone's ``switch_to_deploy()``, mmpretrain's idiom) swaps layers for
their fused inference versions once, in place:

- ``nn.Linear`` (+ the ``nn.GELU`` after it) -> :class:`FusedLinear`;
- ``nn.Conv2d`` + ``nn.BatchNorm2d`` (+ ``nn.GELU``) -> :class:`FusedConv2d`
  with the BN statistics folded into its weights.

The fused modules keep their parameter names (``weight``, ``bias``), so a
switched model still loads the same linear weights; folded BNs become
``nn.Identity`` and their buffers go with them, as in mmpretrain's
re-parameterised backbones. On CPU in fp32 with no gradient needed they run
oneDNN's fused kernels (the ones inductor uses); anywhere else they run the
same ops as the reference modules.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def find_onednn_op(name: str):
    """``torch.ops.mkldnn.<name>`` (oneDNN's fused inference kernels), or
    None if this torch lacks it."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return getattr(torch.ops.mkldnn, name)
    except (AttributeError, RuntimeError):
        return None


# linear + bias (+ activation); convolution + bias (+ activation)
ONEDNN_LINEAR = find_onednn_op('_linear_pointwise')
ONEDNN_CONV = find_onednn_op('_convolution_pointwise')
ACTIVATIONS = ('none', 'gelu')


def _needs_grad(x: torch.Tensor, *params: Optional[torch.Tensor]) -> bool:
    return torch.is_grad_enabled() and (x.requires_grad or any(
        p is not None and p.requires_grad for p in params))


def _onednn_applies(x: torch.Tensor, *params: Optional[torch.Tensor]) -> bool:
    """oneDNN's fused kernels: CPU, float32 and no autograd only. Under
    autocast the plain ops run, which autocast casts to half; an ONNX
    export traces the plain ops too (the fused ones have no ONNX form)."""
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and not torch.is_autocast_enabled('cpu')
            and not torch.compiler.is_exporting()
            and not _needs_grad(x, *params))


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be 'none' or 'gelu', got "
                         f'{activation!r}')
    return activation


def onednn_linear(x: torch.Tensor,
                  weight: torch.Tensor,
                  bias: Optional[torch.Tensor] = None,
                  activation: str = 'none') -> torch.Tensor:
    """``F.linear`` then exact (erf) GELU if ``activation='gelu'``.

    On CPU, in fp32 and with no gradient needed, one oneDNN kernel with bias
    and GELU fused into the product: eager ``addmm`` first copies the
    broadcast bias into the output and GELU makes another pass over it,
    which on LeMeViT cost more than the products themselves. The kernel has
    no backward, so anything that needs a gradient runs ``F.linear``.
    """
    if ONEDNN_LINEAR is not None and _onednn_applies(x, weight, bias):
        return ONEDNN_LINEAR(x, weight, bias, activation, [],
                             'none' if activation == 'gelu' else '')
    out = F.linear(x, weight, bias)
    return F.gelu(out) if activation == 'gelu' else out


class FusedLinear(nn.Linear):
    """``nn.Linear`` (+ exact GELU) through :func:`onednn_linear`.

    Args:
        in_features (int): Input channels.
        out_features (int): Output channels.
        bias (bool): Learn a bias. Defaults to True.
        activation (str): ``'none'`` or ``'gelu'``. Defaults to ``'none'``.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 activation: str = 'none',
                 device=None,
                 dtype=None) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        self.activation = _check_activation(activation)

    @classmethod
    def from_linear(cls,
                    linear: nn.Linear,
                    activation: str = 'none') -> 'FusedLinear':
        """A fused layer sharing ``linear``'s parameters."""
        fused = cls.__new__(cls)
        nn.Module.__init__(fused)
        fused.in_features = linear.in_features
        fused.out_features = linear.out_features
        fused.weight = linear.weight
        fused.bias = linear.bias
        fused.activation = _check_activation(activation)
        fused.train(linear.training)
        return fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return onednn_linear(x, self.weight, self.bias, self.activation)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, activation={self.activation}'


class FusedConv2d(nn.Conv2d):
    """A convolution with a BatchNorm folded in (+ exact GELU).

    On CPU, in fp32 with no gradient needed, one oneDNN kernel on
    channels-last memory: on a LeMeViT stem at batch 16 this is 2.4x faster
    than three passes on NCHW tensors (BN and GELU each re-read a 38 MB map
    and oneDNN's NCHW convolution reorders its input). The output is then
    channels-last. Built by :func:`fuse_conv_bn`.
    """

    def __init__(self, *args, activation: str = 'none', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.activation = _check_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if ONEDNN_CONV is not None and \
                _onednn_applies(x, self.weight, self.bias):
            return ONEDNN_CONV(
                x.contiguous(memory_format=torch.channels_last), self.weight,
                self.bias, list(self.padding), list(self.stride),
                list(self.dilation), self.groups, self.activation, [],
                'none' if self.activation == 'gelu' else '')
        out = super().forward(x)
        return F.gelu(out) if self.activation == 'gelu' else out

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, activation={self.activation}'


def can_fold(conv: nn.Module, bn: nn.Module) -> bool:
    """Whether ``bn(conv(x))`` can become one :class:`FusedConv2d`."""
    return (type(conv) is nn.Conv2d and isinstance(bn, nn.BatchNorm2d)
            and bn.track_running_stats and bn.running_mean is not None
            and conv.padding_mode == 'zeros'
            and not isinstance(conv.padding, str))


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d,
                 bn: nn.BatchNorm2d,
                 activation: str = 'none') -> FusedConv2d:
    """``bn(conv(x))`` (+ GELU) with BN in eval mode, as one convolution.

    Args:
        conv (nn.Conv2d): The convolution (zero padding, numeric padding).
        bn (nn.BatchNorm2d): The BN after it; its running statistics are
            folded, so the result equals the pair in eval mode only.
        activation (str): ``'none'`` or ``'gelu'``. Defaults to ``'none'``.
    """
    if not can_fold(conv, bn):
        raise ValueError(f'cannot fold {bn} into {conv}: needs an '
                         f'nn.Conv2d with zero numeric padding and a BN '
                         f'with running statistics')
    scale = torch.rsqrt(bn.running_var + bn.eps)
    shift = -bn.running_mean * scale
    if bn.affine:
        scale = scale * bn.weight
        shift = shift * bn.weight + bn.bias
    if conv.bias is not None:
        shift = shift + conv.bias * scale
    fused = FusedConv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=True,
        activation=activation,
        device=conv.weight.device,
        dtype=conv.weight.dtype)
    fused.weight.copy_(conv.weight * scale[:, None, None, None])
    fused.bias.copy_(shift)
    fused.requires_grad_(conv.weight.requires_grad)
    return fused.train(conv.training)


def _fuse_sequential(seq: nn.Sequential) -> None:
    """Fold Conv2d-BN(-GELU) and Linear-GELU runs of ``seq`` in place; the
    absorbed modules become ``nn.Identity`` so indices (and the names of
    the remaining parameters) stay."""
    children = list(seq)
    i = 0
    while i < len(children):
        first = children[i]
        second = children[i + 1] if i + 1 < len(children) else None
        if second is not None and can_fold(first, second):
            gelu = i + 2 < len(children) and type(
                children[i + 2]) is nn.GELU and children[i +
                                                         2].approximate == 'none'
            seq[i] = fuse_conv_bn(first, second, 'gelu' if gelu else 'none')
            seq[i + 1] = nn.Identity()
            if gelu:
                seq[i + 2] = nn.Identity()
            i += 3 if gelu else 2
            continue
        if type(first) is nn.Linear and type(second) is nn.GELU \
                and second.approximate == 'none':
            seq[i] = FusedLinear.from_linear(first, 'gelu')
            seq[i + 1] = nn.Identity()
            i += 2
            continue
        i += 1


def deploy_modules(root: nn.Module) -> nn.Module:
    """Swap the layers below ``root`` for their fused inference versions.

    In this order: every submodule that defines ``switch_to_deploy()`` and
    is not ``root`` switches itself (blocks that know their own patterns,
    e.g. :class:`~sparse_backbones.layers.Mlp` fusing ``fc1`` with its
    GELU); then ``nn.Sequential`` runs of Conv2d-BN(-GELU) and Linear-GELU
    are folded; then every remaining plain ``nn.Linear`` becomes a
    :class:`FusedLinear`. Idempotent.
    """
    for module in list(root.modules()):
        if module is not root and hasattr(module, 'switch_to_deploy'):
            module.switch_to_deploy()
    for module in list(root.modules()):
        if isinstance(module, nn.Sequential):
            _fuse_sequential(module)
    for module in list(root.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Linear:
                setattr(module, name, FusedLinear.from_linear(child))
    return root
