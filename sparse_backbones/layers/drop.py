# Copyright (c) sparse_backbones contributors. All rights reserved.
from typing import List


def drop_path_rates(drop_path_rate: float, num_blocks: int) -> List[float]:
    """Stochastic-depth rates rising linearly from 0 over all blocks."""
    if num_blocks == 1:
        return [0.0]
    step = drop_path_rate / (num_blocks - 1)
    return [i * step for i in range(num_blocks)]
