"""ecointegrity.landcover: MAD-Mex land cover and land-cover change.

Class schemes as data, feature recipes from the annual products, spatial-block training,
LightGBM / random-forest models with their provenance, pixel- or object-based maps with a
minimum mapping unit, accuracy and Olofsson et al. (2014) area estimates, and change backed by
spectral evidence. Uses ``ecointegrity.cube`` and reads the mosaics' products; never the layers
above.

Layering (a module imports only modules to its left):
accuracy, change, features, schemes, segmentation, training <- model <- mapping <- workflow;
accuracy <- validation
"""

from __future__ import annotations

from .accuracy import (
    AccuracyReport,
    AreaEstimate,
    accuracy_report,
    allocate_sample,
    confusion_matrix,
    draw_stratified_sample,
    sample_size,
    stratified_estimates,
)
from .change import ChangeResult, change_matrix, detect_change, spectral_distance
from .features import RECIPES, Recipe, build_features, features_from_catalog, get_recipe, terrain
from .mapping import (
    LandCoverRun,
    classify,
    landcover_spec,
    run_landcover,
    sieve_mmu,
    to_polygons,
    write_polygons,
)
from .model import LandCoverModel
from .schemes import ClassScheme, SchemeMapping, convert, list_schemes, load_mapping, load_scheme
from .segmentation import segment, segment_labels, zonal_mean
from .training import TrainingSet, rasterize_reference, read_reference, sample_training
from .validation import MapAssessment, assess_map, draw_validation_sample, mapped_area_ha
from .workflow import ChangeOutputs, map_change, reference_labels, train_model

__all__ = [
    "MapAssessment",
    "assess_map",
    "draw_validation_sample",
    "mapped_area_ha",
    "AccuracyReport",
    "AreaEstimate",
    "accuracy_report",
    "allocate_sample",
    "confusion_matrix",
    "draw_stratified_sample",
    "sample_size",
    "stratified_estimates",
    "ChangeResult",
    "change_matrix",
    "detect_change",
    "spectral_distance",
    "RECIPES",
    "Recipe",
    "build_features",
    "features_from_catalog",
    "get_recipe",
    "terrain",
    "LandCoverRun",
    "classify",
    "landcover_spec",
    "run_landcover",
    "sieve_mmu",
    "to_polygons",
    "write_polygons",
    "LandCoverModel",
    "ClassScheme",
    "SchemeMapping",
    "convert",
    "list_schemes",
    "load_mapping",
    "load_scheme",
    "segment",
    "segment_labels",
    "zonal_mean",
    "TrainingSet",
    "rasterize_reference",
    "read_reference",
    "sample_training",
    "ChangeOutputs",
    "map_change",
    "reference_labels",
    "train_model",
]
