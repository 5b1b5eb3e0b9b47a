# Copyright (c) sparse_backbones contributors. All rights reserved.
"""Class names and palettes of the remote-sensing datasets.

Kept free of host imports so that the demo generator, the split tools and
the tests can use them in an environment without mmdet, mmseg or
mmpretrain.
"""
from typing import Dict, Tuple

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

# NWPU-RESISC45 (Cheng et al., Proc. IEEE 2017): the 45 lower-case folder
# names, sorted (``NWPU-RESISC45/airplane/airplane_001.jpg``).
NWPU_RESISC45_CLASSES: Tuple[str, ...] = (
    'airplane', 'airport', 'baseball_diamond', 'basketball_court', 'beach',
    'bridge', 'chaparral', 'church', 'circular_farmland', 'cloud',
    'commercial_area', 'dense_residential', 'desert', 'forest', 'freeway',
    'golf_course', 'ground_track_field', 'harbor', 'industrial_area',
    'intersection', 'island', 'lake', 'meadow', 'medium_residential',
    'mobile_home_park', 'mountain', 'overpass', 'palace', 'parking_lot',
    'railway', 'railway_station', 'rectangular_farmland', 'river',
    'roundabout', 'runway', 'sea_ice', 'ship', 'snowberg',
    'sparse_residential', 'stadium', 'storage_tank', 'tennis_court',
    'terrace', 'thermal_power_station', 'wetland')

# UC Merced Land Use (Yang & Newsam, ACM GIS 2010): the 21 folder names of
# ``UCMerced_LandUse/Images/``, sorted (``agricultural/agricultural00.tif``).
UCMERCED_CLASSES: Tuple[str, ...] = (
    'agricultural', 'airplane', 'baseballdiamond', 'beach', 'buildings',
    'chaparral', 'denseresidential', 'forest', 'freeway', 'golfcourse',
    'harbor', 'intersection', 'mediumresidential', 'mobilehomepark',
    'overpass', 'parkinglot', 'river', 'runway', 'sparseresidential',
    'storagetanks', 'tenniscourt')

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

# iSAID instance categories with the names and ids (1..15, index + 1) of the
# official iSAID devkit (``preprocess/cityscapesScripts/.../labels.py``).
# Note 'storage_tank': mmdet's ``iSAIDDataset.METAINFO`` spells it
# 'store_tank', which matches no category of a devkit json.
ISAID_CLASSES: Tuple[str, ...] = (
    'ship', 'storage_tank', 'baseball_diamond', 'tennis_court',
    'basketball_court', 'Ground_Track_Field', 'Bridge', 'Large_Vehicle',
    'Small_Vehicle', 'Helicopter', 'Swimming_pool', 'Roundabout',
    'Soccer_ball_field', 'plane', 'Harbor')

# RGB colour of each iSAID category in the ``*_instance_color_RGB.png``
# semantic masks, in ISAID_CLASSES order; (0, 0, 0) is unlabeled.
ISAID_PALETTE_RGB: Tuple[Tuple[int, int, int], ...] = (
    (0, 0, 63), (0, 63, 63), (0, 63, 0), (0, 63, 127), (0, 63, 191),
    (0, 63, 255), (0, 127, 63), (0, 127, 127), (0, 0, 127), (0, 0, 191),
    (0, 0, 255), (0, 191, 127), (0, 127, 191), (0, 127, 255), (0, 100, 155))

# MillionAID (Long et al., JSTARS 2021): 8 level-1 -> 28 level-2 -> 51 leaf
# scene classes, spelled as the folders of the released train archive
# (``train/agriculture_land/grassland/meadow/P0115918.jpg``). A level-2
# node whose only leaf has its own name is one folder on disk
# (``train/water_area/beach/P0060208.jpg``). Verified: the 8 level-1 and
# 51 leaf names (torchgeo ``datasets/millionaid.py``), the two paths above
# (torchgeo ``tests/data/millionaid/data.py``), and the official challenge
# indices 0..7 (dry_field ... commercial_area, CodaLab competition 35945).
# Not verified: where the leaves from index 8 on hang (level-1 and level-2),
# reconstructed from the 73 multi-label names (torchgeo) and the land-use
# standard the paper follows; the scan of a tree warns where it disagrees.
MILLIONAID_HIERARCHY: Dict[str, Dict[str, Tuple[str, ...]]] = {
    'agriculture_land': {
        'arable_land': ('dry_field', 'greenhouse', 'paddy_field',
                        'terraced_field'),
        'grassland': ('meadow', ),
        'woodland': ('forest', 'orchard'),
    },
    'commercial_land': {
        'commercial_area': ('commercial_area', ),
    },
    'industrial_land': {
        'factory_area': ('storage_tank', 'wastewater_plant', 'works'),
        'mining_area': ('mine', 'oil_field', 'quarry'),
        'power_station': ('solar_power_plant', 'substation',
                          'wind_turbine'),
    },
    'public_service_land': {
        'leisure_land': ('golf_course', 'swimming_pool'),
        'religious_land': ('church', ),
        'special_land': ('cemetery', ),
        'sports_land': ('baseball_field', 'basketball_court',
                        'ground_track_field', 'stadium', 'tennis_court'),
    },
    'residential_land': {
        'apartment': ('apartment', ),
        'detached_house': ('detached_house', ),
        'mobile_home_park': ('mobile_home_park', ),
    },
    'transportation_land': {
        'airport_area': ('apron', 'helipad', 'runway'),
        'highway_area': ('bridge', 'intersection', 'parking_lot', 'road',
                         'roundabout', 'viaduct'),
        'port_area': ('pier', ),
        'railway_area': ('railway', 'train_station'),
    },
    'unutilized_land': {
        'bare_land': ('bare_land', ),
        'desert': ('desert', ),
        'ice_land': ('ice_land', ),
        'island': ('island', ),
        'rock_land': ('rock_land', ),
        'sparse_shrub_land': ('sparse_shrub_land', ),
    },
    'water_area': {
        'beach': ('beach', ),
        'dam': ('dam', ),
        'lake': ('lake', ),
        'river': ('river', ),
    },
}

# The 51 leaves in label order: the sorted walk of the released tree
# (level-1, then level-2, then leaf, each sorted), which gives the official
# challenge indices and RSP's ``dry_field 0``; not alphabetical.
MILLIONAID_CLASSES: Tuple[str, ...] = (
    'dry_field', 'greenhouse', 'paddy_field', 'terraced_field', 'meadow',
    'forest', 'orchard', 'commercial_area', 'storage_tank',
    'wastewater_plant', 'works', 'mine', 'oil_field', 'quarry',
    'solar_power_plant', 'substation', 'wind_turbine', 'golf_course',
    'swimming_pool', 'church', 'cemetery', 'baseball_field',
    'basketball_court', 'ground_track_field', 'stadium', 'tennis_court',
    'apartment', 'detached_house', 'mobile_home_park', 'apron', 'helipad',
    'runway', 'bridge', 'intersection', 'parking_lot', 'road', 'roundabout',
    'viaduct', 'pier', 'railway', 'train_station', 'bare_land', 'desert',
    'ice_land', 'island', 'rock_land', 'sparse_shrub_land', 'beach', 'dam',
    'lake', 'river')
# yapf: enable
