"""ecointegrity.integrity: the ecosystem-integrity Bayesian network.

``hemeroby`` holds the versioned class-to-hemeroby tables; ``grid`` aggregates products onto
whole-pixel cells and places sites on them; ``network`` is the model (structure, parameters with
pgmpy, Poisson rates of site counts; EI = 1 - E[hemeroby] / max), discretising with frozen
quantile bins (``_discretise``) and computing the exact posterior of the latent over its Markov
blanket, vectorised (``_inference``, numba kernels in ``_posterior_numba`` with a numpy
reference); ``validation`` scores it (spatially blocked cross-validation beside LightGBM, the
acoustic check); ``simulate`` is the scene simulator with a known integrity field and recorders;
``workflow`` reads the other parts' products (land-cover maps, annual products, acoustic site
evidence), never their internals, and writes EI maps; ``summaries`` gives the figures reports
quote (area per EI class, statistics per region and year; the documents are ``ecointegrity.reports``).

Layering (a module imports only modules to its left):
hemeroby, grid, _discretise, _posterior_numba <- _inference <- network <- validation, simulate
    <- workflow; summaries
"""

from __future__ import annotations

from .grid import cell_geobox, cell_statistics, cell_table, class_shares, majority, sites_to_cells
from .hemeroby import HemerobyTable, load_hemeroby_table, shipped_hemeroby_tables
from .network import IntegrityNetwork, effort_likelihood, read_adjacency, summarise_posterior
from .simulate import IntegrityScene, simulate_integrity
from .summaries import (
    EI_CLASSES,
    INTACT,
    area_by_class,
    cell_area_km2,
    region_masks,
    region_names,
    region_statistics,
    region_trends,
)
from .validation import (
    CrossValidationResult,
    acoustic_relation,
    assign_folds,
    blocked_cross_validation,
    spatial_blocks,
)
from .workflow import (
    IntegrityRun,
    evidence_on_cells,
    integrity_layers,
    integrity_spec,
    raster_on,
    run_integrity,
)

__all__ = [
    "EI_CLASSES",
    "INTACT",
    "CrossValidationResult",
    "HemerobyTable",
    "IntegrityNetwork",
    "IntegrityRun",
    "IntegrityScene",
    "acoustic_relation",
    "area_by_class",
    "assign_folds",
    "blocked_cross_validation",
    "cell_area_km2",
    "cell_geobox",
    "cell_statistics",
    "cell_table",
    "class_shares",
    "effort_likelihood",
    "evidence_on_cells",
    "integrity_layers",
    "integrity_spec",
    "load_hemeroby_table",
    "majority",
    "raster_on",
    "read_adjacency",
    "region_masks",
    "region_names",
    "region_statistics",
    "region_trends",
    "run_integrity",
    "shipped_hemeroby_tables",
    "simulate_integrity",
    "sites_to_cells",
    "spatial_blocks",
    "summarise_posterior",
]

