# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Install the ``weights_only`` allow-list for a config-driven run."""
from mmengine.hooks import Hook

from ..registry import HOOKS, register_module
from ..utils.safe_load import enable_safe_checkpoint_loading


@register_module(HOOKS)
class SafeCheckpointLoadingHook(Hook):
    """Let the runner load mmengine checkpoints under ``weights_only=True``.

    For runs started by a plain mmengine ``Runner`` (the hosts' own
    ``tools/train.py``, a user's script) rather than by our tools, which
    install the allow-list themselves. ``Runner.train()``, ``val()`` and
    ``test()`` call ``before_run`` before ``load_or_resume()`` (``load_from``,
    ``resume``) and, in ``train()``, before ``init_cfg`` weights are loaded,
    so the checkpoints of the run are read with the allow-list of
    :func:`~sparse_backbones.enable_safe_checkpoint_loading` in place. It
    stays installed after the run (checkpoints loaded after ``train()`` need
    it too); it adds only the types mmengine's checkpoints contain. ::

        custom_hooks = [dict(type='SafeCheckpointLoadingHook')]
    """
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        enable_safe_checkpoint_loading()
