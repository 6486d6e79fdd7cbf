"""ecointegrity.integrity: the ecosystem-integrity Bayesian network.

Layering: ``hemeroby`` (versioned class-to-hemeroby tables), ``discretise`` (frozen quantile
bins), ``grid`` (products aggregated onto whole-pixel cells, sites placed on them) <-
``inference`` (exact posterior of the latent over its Markov blanket, vectorised; numba kernels
in ``_posterior_numba`` with a numpy reference) <- ``network`` (structure, parameters with
pgmpy, Poisson rates of site counts; EI = 1 - E[hemeroby] / max) <- ``validation`` (spatially
blocked cross-validation beside LightGBM, the acoustic check) and ``simulate`` (the scene
simulator with a known integrity field and recorders). It reads the products of the other
parts (land-cover maps, annual products, acoustic site evidence), never their internals.
"""

from .discretise import Discretiser
from .grid import (
    cell_geobox,
    cell_statistics,
    cell_table,
    class_shares,
    sites_to_cells,
)
from .hemeroby import HemerobyTable, load_hemeroby_table, shipped_hemeroby_tables
from .inference import (
    Factor,
    MarkovBlanket,
    latent_posterior,
    latent_posterior_reference,
    latent_summary,
)
from .network import IntegrityNetwork, effort_likelihood, read_adjacency, summarise_posterior
from .simulate import IntegrityScene, simulate_integrity
from .validation import (
    CrossValidationResult,
    acoustic_relation,
    assign_folds,
    blocked_cross_validation,
    spatial_blocks,
)

__all__ = [
    "CrossValidationResult",
    "Discretiser",
    "Factor",
    "HemerobyTable",
    "IntegrityNetwork",
    "IntegrityScene",
    "MarkovBlanket",
    "acoustic_relation",
    "assign_folds",
    "blocked_cross_validation",
    "cell_geobox",
    "cell_statistics",
    "cell_table",
    "class_shares",
    "effort_likelihood",
    "latent_posterior",
    "latent_posterior_reference",
    "latent_summary",
    "load_hemeroby_table",
    "read_adjacency",
    "shipped_hemeroby_tables",
    "simulate_integrity",
    "sites_to_cells",
    "spatial_blocks",
    "summarise_posterior",
]
