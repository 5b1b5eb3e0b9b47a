# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Pickles a checkpoint must never get to run, shared by the tests of every
load path (safe loading, the fork shims, the tools, the converters)."""
import os


class SystemPayload:
    """Unpickles to ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


class GetattrPayload:
    """Unpickles to ``getattr(obj, name)``: the real ``getattr`` reaches
    any attribute of any allowed object."""

    def __init__(self, obj, name: str) -> None:
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)
