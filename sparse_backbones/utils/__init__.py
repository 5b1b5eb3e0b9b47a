# Copyright (c) sparse_backbones contributors. All rights reserved.
from .checkpoint import unwrap_state_dict

__all__ = ['unwrap_state_dict']
