# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Efficiency benchmark, result tables and model-index files.

Not imported by ``sparse_backbones/__init__``: the tools import it directly,
so importing the package stays light.
"""
from .breakdown import breakdown, breakdown_table
from .measure import Measurement, Settings, run_benchmark
from .report import (load_paper_figures, readme_section, replace_marked_block,
                     table_rows, to_markdown, write_outputs)
from .zoo import BASELINES, ModelSpec, our_specs, resolve_specs

__all__ = [
    'BASELINES', 'Measurement', 'ModelSpec', 'Settings', 'breakdown',
    'breakdown_table', 'load_paper_figures',
    'our_specs', 'readme_section', 'replace_marked_block', 'resolve_specs',
    'run_benchmark', 'table_rows', 'to_markdown', 'write_outputs'
]
