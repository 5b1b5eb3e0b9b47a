# Copyright (c) sparse_backbones contributors. All rights reserved.
from .checkpoint import (check_checkpoint_fits, checkpoint_mismatch,
                         unwrap_state_dict)

__all__ = ['check_checkpoint_fits', 'checkpoint_mismatch', 'unwrap_state_dict']
