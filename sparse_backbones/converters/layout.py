# Copyright (c) sparse_backbones contributors. All rights reserved.
"""The error of a converter handed the weights of another model."""


class ForeignCheckpointError(KeyError):
    """A state dict of another model than the converter takes.

    A :class:`KeyError`, like the strict load's report of missing keys, so
    ``init_cfg=dict(type='Pretrained')`` raises one class for weights that
    do not fit. The converter CLIs and the backbones put the file's name in
    front of ``predicate`` (:meth:`of`).

    Args:
        predicate (str): What the weights are and what was expected, to
            follow the name of their file ("holds no LIT weights: ...").
        source (str): Their file, once known.
    """

    def __init__(self, predicate: str, source: str = 'the state dict'):
        super().__init__(f'{source} {predicate}')
        self.predicate = predicate

    def __str__(self) -> str:  # KeyError's would be the repr
        return self.args[0]

    def of(self, source: str) -> 'ForeignCheckpointError':
        """The same error, naming ``source`` as the file."""
        return type(self)(self.predicate, source)
