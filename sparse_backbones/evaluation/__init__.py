# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Metrics of the remote-sensing protocols (registered on import)."""
from .dota_metric import DOTAMetric  # noqa: F401

try:  # ISPRSMetric extends mmseg's IoUMetric; without mmseg, skip it
    import mmseg.evaluation  # noqa: F401
except Exception:  # noqa: BLE001
    pass
else:
    from .seg_metrics import ISPRSMetric  # noqa: F401
