# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The backbone contract of sparse_backbones, implemented once.

Every backbone of the package derives from :class:`BaseSparseBackbone`, which
owns what mmpretrain, mmdet and mmseg expect of a backbone: ``arch``
resolution, ``out_indices``, ResNet-style ``frozen_stages``, ``norm_eval``,
gradient checkpointing, ``out_channels``/``feature_info``, pretrained
loading with prefix stripping and upstream-key conversion, and
``get_layer_depth`` for layer-wise learning-rate decay.
"""
import copy
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.checkpoint import unwrap_state_dict


class BaseSparseBackbone(BaseModule):
    """Base class of the hierarchical backbones of sparse_backbones.

    Subclasses define :attr:`arch_zoo`, :attr:`essential_keys`,
    :attr:`per_stage_keys` (arch keys with one value per stage) and
    :attr:`stem_names` (attributes holding the stem's modules and
    parameters), and build ``self.stages`` (an ``nn.ModuleList`` whose items
    have a ``blocks`` ``nn.ModuleList``) in ``__init__``.

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
        if out_type != 'featmap':  # pooled outputs come from the last stage
            out_indices = -1
        self.out_type = out_type
        self.arch_settings = self.resolve_arch(arch)
        self.out_indices = self._normalize_out_indices(out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [-1, '
                             f'{self.num_stages}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

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

    # ------------------------------------------------------------ running
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
                                 self.init_cfg.get('map_location', 'cpu'))
            self._is_init = True
            return
        super().init_weights()

    def load_pretrained(self,
                        checkpoint: str,
                        prefix: str = '',
                        map_location: str = 'cpu') -> None:
        """Load a checkpoint of any supported layout into the backbone.

        Wrappers (``state_dict``, ``model``, ``state_dict_ema``) and the
        ``module.``/``prefix`` key prefixes are removed, upstream names are
        converted with :meth:`convert_state_dict`, and the result must cover
        every parameter and buffer of the backbone with the right shape;
        extra keys (e.g. a classifier head) are ignored and logged.

        Raises:
            KeyError: when weights are missing or have the wrong shape, with
                the offending keys and shapes in the message.
        """
        raw = CheckpointLoader.load_checkpoint(
            checkpoint, map_location=map_location)
        prefixes = ('module.', ) + ((prefix, ) if prefix else ())
        state_dict = self.convert_state_dict(unwrap_state_dict(raw, prefixes))
        self.load_backbone_state_dict(state_dict, source=checkpoint)

    def load_backbone_state_dict(self, state_dict: Dict[str, torch.Tensor],
                                 source: str = 'state dict') -> None:
        """Strictly load a converted state dict, with a readable report."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        mismatched = [
            f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model '
            f'{tuple(v.shape)}' for k, v in own.items()
            if k in state_dict and state_dict[k].shape != v.shape
        ]
        if missing or mismatched:
            lines = []
            if missing:
                lines.append(f'{len(missing)} missing keys, e.g. '
                             f'{missing[:8]}')
            if mismatched:
                lines.append(f'{len(mismatched)} keys with other shapes, '
                             f'e.g. {mismatched[:8]}')
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
