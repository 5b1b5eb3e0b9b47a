# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Class names and palettes of the remote-sensing datasets.

Kept free of host imports so that the demo generator, the split tools and
the tests can use them in an environment without mmdet, mmseg or
mmpretrain.
"""
from typing import Tuple

# yapf: disable
# AID (Xia et al., TGRS 2017): the 30 CamelCase folder names, sorted, which
# is also the label order of every published split file.
AID_CLASSES: Tuple[str, ...] = (
    'Airport', 'BareLand', 'BaseballField', 'Beach', 'Bridge', 'Center',
    'Church', 'Commercial', 'DenseResidential', 'Desert', 'Farmland',
    'Forest', 'Industrial', 'Meadow', 'MediumResidential', 'Mountain',
    'Park', 'Parking', 'Playground', 'Pond', 'Port', 'RailwayStation',
    'Resort', 'River', 'School', 'SparseResidential', 'Square', 'Stadium',
    'StorageTanks', 'Viaduct')

# DOTA-v1.0 category strings exactly as they appear in the label files.
DOTA_V1_CLASSES: Tuple[str, ...] = (
    'plane', 'baseball-diamond', 'bridge', 'ground-track-field',
    'small-vehicle', 'large-vehicle', 'ship', 'tennis-court',
    'basketball-court', 'storage-tank', 'soccer-ball-field', 'roundabout',
    'harbor', 'swimming-pool', 'helicopter')

# DOTA-v1.5 adds one category (and annotates very small instances).
DOTA_V15_CLASSES: Tuple[str, ...] = DOTA_V1_CLASSES + ('container-crane', )

# One visually distinct RGB colour per DOTA-v1.5 class, for visualisers.
DOTA_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (165, 42, 42), (189, 183, 107), (0, 255, 0), (255, 0, 0),
    (138, 43, 226), (255, 128, 0), (255, 0, 255), (0, 255, 255),
    (255, 193, 193), (0, 51, 153), (255, 250, 205), (0, 139, 139),
    (255, 255, 0), (147, 116, 116), (0, 0, 255), (220, 20, 60))
# yapf: enable
