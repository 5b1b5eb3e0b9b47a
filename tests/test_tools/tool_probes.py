# Copyright (c) sparse_backbones contributors. All rights reserved.
"""A hook that ``tests/test_tools/test_train_test.py`` injects into runs of tools/train.py.

The tests run the tools in subprocesses; this hook is how they look inside:
configs name it by its dotted path (``tool_probes.StateProbeHook``, with
``tests/test_tools/`` on ``PYTHONPATH``), which mmengine's registry resolves without
registration.
"""
import os
import os.path as osp
from typing import Any, List, Optional

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


class StateProbeHook(Hook):
    """Dump the parameters and counters of every rank before/after training.

    Writes ``{out_dir}/{stage}_rank{rank}.pth`` for the stages
    ``before_train`` (after a resume has loaded its checkpoint) and
    ``after_train``, holding ``rank``, ``world_size``, ``epoch``, ``iter``,
    ``params`` and ``buffers`` (name -> tensor) and ``samples`` (``(epoch, img_path)`` of
    every training sample this rank saw).

    Args:
        out_dir (str): Directory for the dumps; created if missing.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.samples: List[Any] = []

    def _dump(self, runner, stage: str) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        os.makedirs(self.out_dir, exist_ok=True)
        torch.save(
            dict(
                rank=get_rank(),
                world_size=get_world_size(),
                epoch=runner.epoch,
                iter=runner.iter,
                params={
                    name: param.detach().cpu().clone()
                    for name, param in model.named_parameters()
                },
                buffers={
                    name: buffer.detach().cpu().clone()
                    for name, buffer in model.named_buffers()
                },
                samples=list(self.samples)),
            osp.join(self.out_dir, f'{stage}_rank{get_rank()}.pth'))

    def before_train(self, runner) -> None:
        self._dump(runner, 'before_train')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        for sample in (data_batch or {}).get('data_samples', []):
            name = sample.metainfo.get('img_path',
                                       sample.metainfo.get('sample_idx'))
            self.samples.append((runner.epoch, name))

    def after_train(self, runner) -> None:
        self._dump(runner, 'after_train')
