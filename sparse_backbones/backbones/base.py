# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The backbone contract of sparse_backbones, written once.

Every backbone derives from :class:`BaseSparseBackbone`, which owns what
mmpretrain, mmdet and mmseg expect of a backbone and what the four designs
share. The contract (also in the README, "The backbone contract"):

- **Stages.** A *stage* is a resolution level of a pyramid (LeMeViT, LIT,
  DGE-PVT, LTM-Swin: 4 stages at strides 4/8/16/32). Plain ViTs (DGE-DeiT,
  LTM-ViT; ``is_plain``) follow mmpretrain's ``VisionTransformer``: a stage
  is one block, so ``out_indices`` and ``frozen_stages`` count blocks. That
  is the only exception.
- ``out_indices`` (int or sequence, negatives count from the end): the
  stages whose maps ``forward`` returns, as a tuple of NCHW tensors of
  ``ceil(H / s) x ceil(W / s)`` for any input size, in ``out_indices``
  order. Stages after the last needed one are neither built nor run
  (:attr:`last_stage`, the one early-exit rule).
- ``out_type``: ``'featmap'`` (the maps above) or a pooled classification
  output (``'avg_featmap'``, ``'cls_token'``) of the last stage, returned
  as a 1-tuple of (B, C); ``out_indices`` naming other stages is then
  ignored, with a warning.
- **Output norms** are named ``norm{i}``: the norm applied to the output
  of stage ``i`` (for plain ViTs, the final norm is ``norm{depth - 1}``).
  A stage without one returns its tokens as they are.
- ``frozen_stages``: -1 freezes nothing, 0 the stem (:attr:`stem_names`),
  k the stem and stages 0..k-1 with their output norms (ResNet meaning);
  frozen parts stay in eval mode through ``train()``.
- ``norm_eval``: keep every BatchNorm in eval mode while training.
- ``with_cp``: gradient checkpointing of every block, active only when the
  block input requires grad.
- ``last_stats``: a :class:`DynamicStats` of the last forward for the
  dynamic designs (DGE, LTM; ``is_dynamic``), reset by every forward;
  ``None`` for the static ones.
- ``switch_to_deploy()``: swaps layers for their fused inference versions
  once, in place (:mod:`sparse_backbones.layers.fused`); the unswitched
  model is the reference. :func:`deploy` does it for every backbone inside
  any host model.

Subclasses implement :meth:`forward_stem`, :meth:`forward_stage` and
:meth:`stage_tokens` (and :meth:`forward_pooled` for pooled outputs); the
forward loop, the output norms and the early exit live here.
"""
import copy
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import deploy_modules, nlc_to_nchw
from ..utils.checkpoint import (checkpoint_mismatch, choose_weights,
                                unreadable_checkpoint_error,
                                unwrap_state_dict)


@dataclass
class DynamicStats:
    """What the dynamic parts of a backbone did in its last forward pass.

    One type for every dynamic design; each fills the fields it has.

    Attributes:
        flops_ratio (Tensor, optional): Scalar, batch mean of
            ``sample_flops_ratio`` (DGE); differentiable w.r.t. the routers
            in training, which is what the budget loss needs.
        sample_flops_ratio (Tensor, optional): (B,) realised / static
            multiply-adds of the dynamic blocks of each sample (DGE).
        dynamic_macs (Tensor, optional): (B,) realised multiply-adds of the
            dynamic blocks (DGE).
        static_macs (float, optional): Multiply-adds of the dynamic blocks
            at their static (finest) setting (DGE).
        gates (list[Tensor]): Per DGE block in depth order, the (B, Rh, Rw)
            chosen option of each region (0: 16 queries, 1: 4, 2: 1).
        grid_shapes (list[tuple]): Per DGE block, the (H, W) token grid.
        records (list): Per LTM block, its merging record (filled only while
            the backbone's ``record_masks`` is True).
    """
    flops_ratio: Optional[torch.Tensor] = None
    sample_flops_ratio: Optional[torch.Tensor] = None
    dynamic_macs: Optional[torch.Tensor] = None
    static_macs: Optional[float] = None
    gates: List[torch.Tensor] = field(default_factory=list)
    grid_shapes: List[Tuple[int, int]] = field(default_factory=list)
    records: list = field(default_factory=list)


class BaseSparseBackbone(BaseModule):
    """Base class of every backbone of sparse_backbones (the contract is in
    the module docstring).

    Subclasses define :attr:`arch_zoo`, :attr:`essential_keys`,
    :attr:`per_stage_keys` (arch keys with one value per stage) and
    :attr:`stem_names` (attributes holding the stem's modules and
    parameters), build ``self.stages`` (an ``nn.ModuleList`` whose items
    have a ``blocks`` ``nn.ModuleList``) for stages ``0..last_stage`` in
    ``__init__``, and implement :meth:`forward_stem`,
    :meth:`forward_stage` and :meth:`stage_tokens`.

    Args:
        arch (str | dict): A key of :attr:`arch_zoo` or a dict with at least
            :attr:`essential_keys`.
        out_indices (int | Sequence[int]): Stages whose outputs are returned;
            negative indices count from the last stage. Defaults to -1.
        out_type (str): One of :attr:`out_types`: ``'featmap'`` returns the
            maps of ``out_indices``; any other (a pooled classification
            output such as ``'avg_featmap'``) comes from the last stage
            only. Defaults to ``'featmap'``.
        frozen_stages (int): -1 freezes nothing, 0 the stem, k the stem and
            stages 0..k-1 with their output norms (ResNet meaning).
            Defaults to -1.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training.
            Defaults to False.
        with_cp (bool): Gradient checkpointing of every block; active only
            when the block input requires grad. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads weights converted from any upstream layout.
    """
    arch_zoo: Dict[str, dict] = {}
    essential_keys: Tuple[str, ...] = ()
    per_stage_keys: Tuple[str, ...] = ()
    stem_names: Tuple[str, ...] = ()
    num_stages: int = 4
    stage_strides: Tuple[int, ...] = (4, 8, 16, 32)
    out_types: Tuple[str, ...] = ('featmap', )
    # Plain ViTs: a stage is one block (mmpretrain's VisionTransformer).
    is_plain: bool = False
    # DGE and LTM: last_stats holds a DynamicStats after every forward.
    is_dynamic: bool = False
    # 2: output norms named norm{i}; older checkpoints are upgraded by
    # upgrade_legacy_keys (see legacy_key_renames).
    _version = 2

    def __init__(self,
                 arch: Union[str, dict],
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=copy.deepcopy(init_cfg))
        if out_type not in self.out_types:
            raise ValueError(f'out_type must be one of {self.out_types}, '
                             f'got {out_type!r}')
        self.out_type = out_type
        self.arch_settings = self.resolve_arch(arch)
        self.out_indices = self._normalize_out_indices(out_indices)
        last = (self.num_stages - 1, )
        # Every stage is the pyramids' default (as mmdet's backbones): only
        # a choice of other stages is a mistake worth a word.
        every = tuple(range(self.num_stages))
        if out_type != 'featmap' and self.out_indices not in (last, every):
            warnings.warn(
                f'{type(self).__name__}: out_indices={out_indices!r} is '
                f'ignored with out_type={out_type!r}, which pools the last '
                f"stage; drop out_indices, or use out_type='featmap' for "
                f'the maps of other stages')
        if out_type != 'featmap':
            self.out_indices = last
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [-1, '
                             f'{self.num_stages}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.deployed = False
        self._last_stats: Optional[DynamicStats] = None

    # ----------------------------------------------------------- arch / io
    @classmethod
    def resolve_arch(cls, arch: Union[str, dict]) -> dict:
        """Return the settings dict for ``arch`` or raise a clear error."""
        if isinstance(arch, str):
            key = arch.lower()
            if key not in cls.arch_zoo:
                raise KeyError(
                    f'Arch {arch!r} is not in default archs of '
                    f'{cls.__name__}; choose one of '
                    f'{sorted(set(cls.arch_zoo))} or pass a dict with the '
                    f'keys {sorted(cls.essential_keys)}')
            return copy.deepcopy(cls.arch_zoo[key])
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got '
                            f'{type(arch).__name__}')
        missing = set(cls.essential_keys) - set(arch)
        if missing:
            raise KeyError(f'Custom arch of {cls.__name__} needs a dict '
                           f'with keys {sorted(cls.essential_keys)}; '
                           f'missing {sorted(missing)}')
        for key in cls.per_stage_keys:
            if key in arch and len(arch[key]) != cls.num_stages:
                raise ValueError(
                    f'{cls.__name__} arch needs {cls.num_stages} values of '
                    f'{key!r} (one per stage), got {arch[key]}')
        return copy.deepcopy(arch)

    def _normalize_out_indices(
            self, out_indices: Union[int, Sequence[int]]) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        normalized = []
        for index in out_indices:
            if not -self.num_stages <= index < self.num_stages:
                raise ValueError(f'out_indices entry {index} is out of range '
                                 f'for {self.num_stages} stages')
            normalized.append(index % self.num_stages)
        return tuple(normalized)

    @property
    def stage_channels(self) -> Tuple[int, ...]:
        """Channels of each stage's output map."""
        raise NotImplementedError

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned map, in ``out_indices`` order."""
        return tuple(self.stage_channels[i] for i in self.out_indices)

    @property
    def feature_info(self) -> List[dict]:
        """timm-style description of the returned maps."""
        return [
            dict(
                num_chs=self.stage_channels[i],
                reduction=self.stage_strides[i],
                module=f'stages.{i}') for i in self.out_indices
        ]

    @property
    def last_stage(self) -> int:
        """The last stage whose output is needed: later stages are neither
        built nor run."""
        if self.out_type != 'featmap':
            return self.num_stages - 1
        return max(self.out_indices)

    # ------------------------------------------------------------ running
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(B, C, H, W) images -> tuple of outputs (see the contract)."""
        if self.is_dynamic:
            self._last_stats = None
        state = self.forward_stem(x)
        maps = {}
        for i in range(self.last_stage + 1):
            state = self.forward_stage(i, state)
            if self.out_type == 'featmap' and i in self.out_indices:
                maps[i] = self.featmap(i, state)
        if self.is_dynamic:
            self._last_stats = self.collect_stats(state)
        if self.out_type != 'featmap':
            return (self.forward_pooled(state), )
        return tuple(maps[i] for i in self.out_indices)

    def forward_stem(self, x: torch.Tensor) -> Any:
        """Images -> the state the first stage reads (any object)."""
        raise NotImplementedError

    def forward_stage(self, index: int, state: Any) -> Any:
        """Run stage ``index`` on ``state``; return the new state."""
        raise NotImplementedError

    def stage_tokens(self, index: int,
                     state: Any) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """The (B, H*W, C) grid tokens of stage ``index``'s output in
        ``state`` (no extra tokens) and their (H, W)."""
        raise NotImplementedError

    def featmap(self, index: int, state: Any) -> torch.Tensor:
        """Stage ``index``'s output map: its tokens through ``norm{index}``
        (if it has one) as a contiguous (B, C, H, W) tensor."""
        tokens, hw_shape = self.stage_tokens(index, state)
        norm = self.out_norm(index)
        if norm is not None:
            tokens = norm(tokens)
        return nlc_to_nchw(tokens, hw_shape).contiguous()

    def forward_pooled(self, state: Any) -> torch.Tensor:
        """The (B, C) pooled output of ``out_type`` after the last stage."""
        raise NotImplementedError

    def collect_stats(self, state: Any) -> DynamicStats:
        """The :class:`DynamicStats` of a finished forward (dynamic
        designs)."""
        raise NotImplementedError

    @property
    def last_stats(self) -> Optional[DynamicStats]:
        """:class:`DynamicStats` of the last forward pass (reset by each) for
        the dynamic designs; None for the static ones."""
        if not self.is_dynamic:
            return None
        if self._last_stats is None:
            raise RuntimeError(
                f'{type(self).__name__} has no gate statistics yet: they '
                f'are computed by a forward pass (and reset at the start of '
                f'each), so call the model on a batch first')
        return self._last_stats

    def run_block(self, block: nn.Module, *args):
        """Call ``block``, checkpointed when ``with_cp`` applies."""
        if self.with_cp and any(
                isinstance(a, torch.Tensor) and a.requires_grad for a in args):
            return cp.checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    # --------------------------------------------------- freezing and modes
    def out_norm(self, index: int) -> Optional[nn.Module]:
        """The output norm of stage ``index``, if the backbone has one."""
        return getattr(self, f'norm{index}', None)

    def stage_module_names(self, index: int) -> List[str]:
        """Attribute paths of what stage ``index`` owns: the unit that
        ``frozen_stages`` freezes (its blocks, downsampling, output norm)."""
        names = [f'stages.{index}'] if index < len(self.stages) else []
        if self.out_norm(index) is not None:
            names.append(f'norm{index}')
        return names

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        names = list(self.stem_names)
        for i in range(self.frozen_stages):
            names += self.stage_module_names(i)
        for name in names:
            # getattr also reaches parameters (e.g. LeMeViT's meta tokens).
            item = self.get_submodule(name) if '.' in name else getattr(
                self, name)
            if isinstance(item, nn.Parameter):
                item.requires_grad = False
                continue
            item.eval()
            for param in item.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'BaseSparseBackbone':
        if mode and self.deployed:
            raise RuntimeError(
                f'{type(self).__name__} was switched to deploy (fused '
                f'inference layers, BatchNorms folded) and cannot train; '
                f'build the model again (or load its checkpoint into a new '
                f'one) to train it')
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # ------------------------------------------------------ layer decay
    def block_prefixes(self) -> List[str]:
        """Names of the blocks in depth order (for layer-wise lr decay)."""
        return [
            f'stages.{i}.blocks.{j}' for i, stage in enumerate(self.stages)
            for j in range(len(stage.blocks))
        ]

    def get_layer_depth(self,
                        param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise learning-rate decay.

        The stem is layer 0, block k (in depth order) is layer k + 1, the
        non-block parts of a stage (downsampling, meta-token projections)
        share the layer of the stage's first block, and everything after
        the last stage (output norms, final norms) is the last layer. This
        is the protocol of mmpretrain's backbones.

        Args:
            param_name (str): Parameter name, e.g. from
                ``model.named_parameters()``.
            prefix (str): Prefix of backbone names in ``param_name``, e.g.
                ``'backbone.'``. Defaults to ''.

        Returns:
            tuple[int, int]: The layer id and the number of layers.
        """
        blocks = self.block_prefixes()
        num_layers = len(blocks) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers  # a head, not the backbone
        name = param_name[len(prefix):]
        for depth, block in enumerate(blocks):
            if name.startswith(block + '.'):
                return depth + 1, num_layers
        stage = re.match(r'stages\.(\d+)\.', name)
        if stage:
            first = f'stages.{stage.group(1)}.'
            depth = next(
                d for d, b in enumerate(blocks) if b.startswith(first))
            return depth + 1, num_layers
        if any(name == stem or name.startswith(stem + '.')
               for stem in self.stem_names):
            return 0, num_layers
        return num_layers - 1, num_layers

    # ------------------------------------------------------------ deploy
    def switch_to_deploy(self) -> None:
        """Swap layers for their fused inference versions, once, in place
        (mmpretrain's idiom; see :mod:`sparse_backbones.layers.fused`). The
        model is then for inference only: ``train()`` refuses it."""
        if self.deployed:
            return
        self.eval()
        deploy_modules(self)
        self.deployed = True

    # ----------------------------------------------------- legacy names
    def legacy_key_renames(self) -> List[Tuple[str, str]]:
        """``(pattern, replacement)`` regexes from the names of checkpoints
        this package wrote before ``_version`` 2 to today's names."""
        return []

    def upgrade_legacy_keys(self, state_dict: Dict[str, torch.Tensor],
                            prefix: str = '') -> None:
        """Rename, in place, the keys under ``prefix`` that carry an older
        name of this backbone (the one place old names are mapped)."""
        renames = [(re.compile(p), r) for p, r in self.legacy_key_renames()]
        if not renames:
            return
        for key in [k for k in state_dict if k.startswith(prefix)]:
            name = key[len(prefix):]
            for pattern, replacement in renames:
                name = pattern.sub(replacement, name)
            if prefix + name != key:
                state_dict[prefix + name] = state_dict.pop(key)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              *args, **kwargs) -> None:
        version = local_metadata.get('version')
        if version is None or version < 2:
            self.upgrade_legacy_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      *args, **kwargs)

    # -------------------------------------------------------- pretrained
    def convert_state_dict(
            self, state_dict: Dict[str, torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        """Map an upstream state dict to this class's names (identity)."""
        return state_dict

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and \
                self.init_cfg.get('type') == 'Pretrained':
            self.load_pretrained(self.init_cfg['checkpoint'],
                                 self.init_cfg.get('prefix', ''),
                                 self.init_cfg.get('map_location', 'cpu'),
                                 self.init_cfg.get('weights', None))
            self._is_init = True
            return
        super().init_weights()

    def load_pretrained(self,
                        checkpoint: str,
                        prefix: str = '',
                        map_location: str = 'cpu',
                        weights: Optional[str] = None) -> None:
        """Load a checkpoint of any supported layout into the backbone.

        ``weights`` (``init_cfg.weights``): ``'ema'`` or ``'raw'`` picks
        one set of a checkpoint that holds both (see
        :func:`~sparse_backbones.utils.checkpoint.choose_weights`); by
        default its ``state_dict`` is loaded: the EMA average of a run of
        this package with ``EMAHook``, the raw weights of an official
        (timm) checkpoint, as the official downstream code takes them.

        Wrappers (``state_dict``, ``model``, ``state_dict_ema``) and the
        ``module.``/``prefix`` key prefixes are removed, upstream names are
        converted with :meth:`convert_state_dict`, and the result must cover
        every parameter and buffer of the backbone with the right shape;
        extra keys (e.g. a classifier head) are ignored and logged.

        Raises:
            KeyError: when weights are missing or have the wrong shape, with
                the offending keys and shapes in the message, or the file
                holds the weights of another model.
            ValueError: when torch cannot read the file or refuses it (it
                would run code), in the words of the tools.
        """
        # mmengine training checkpoints (message_hub, numpy meta) load under
        # weights_only with the allow-list, for this load only.
        from ..converters.layout import ForeignCheckpointError
        from ..utils.safe_load import safe_checkpoint_loading
        with safe_checkpoint_loading():
            try:
                raw = CheckpointLoader.load_checkpoint(
                    checkpoint, map_location=map_location)
            except OSError:  # missing file, failed download: said already
                raise
            except Exception as error:  # noqa: BLE001  (described)
                raise unreadable_checkpoint_error(checkpoint,
                                                  error) from None
        prefixes = ('module.', ) + ((prefix, ) if prefix else ())
        state_dict = dict(
            unwrap_state_dict(choose_weights(raw, weights), prefixes))
        self.upgrade_legacy_keys(state_dict)
        try:
            state_dict = self.convert_state_dict(state_dict)
        except ForeignCheckpointError as error:
            raise error.of(checkpoint) from None
        self.load_backbone_state_dict(state_dict, source=checkpoint)

    def load_backbone_state_dict(self, state_dict: Dict[str, torch.Tensor],
                                 source: str = 'state dict') -> None:
        """Strictly load a converted state dict, with a readable report."""
        own = self.state_dict()
        lines = checkpoint_mismatch(own, state_dict)
        if lines:
            raise KeyError(
                f'{source} does not fit {type(self).__name__} '
                f'(arch {self.arch_settings}): ' + '; '.join(lines) +
                '. Check that the checkpoint is of the same variant and that '
                'init_cfg.prefix matches its key prefix.')
        unexpected = [k for k in state_dict if k not in own]
        self.load_state_dict({k: state_dict[k] for k in own}, strict=True)
        logger = MMLogger.get_current_instance()
        logger.info(f'Loaded {type(self).__name__} weights from {source}; '
                    f'ignored {len(unexpected)} keys not used by this model'
                    + (f' (e.g. {unexpected[:5]})' if unexpected else ''))


def deploy(model: nn.Module) -> nn.Module:
    """Switch every sparse_backbones backbone inside ``model`` (a backbone
    or any host model: classifier, detector, segmentor) to its fused
    inference layers, in place; returns ``model``."""
    for module in list(model.modules()):
        if isinstance(module, BaseSparseBackbone):
            module.switch_to_deploy()
    return model
