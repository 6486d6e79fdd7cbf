"""ecointegrity.integrity: the ecosystem-integrity Bayesian network.

Layering: ``hemeroby`` (versioned class-to-hemeroby tables), ``discretise`` (frozen quantile
bins) <- ``inference`` (exact posterior of the latent over its Markov blanket, vectorised; numba
kernels in ``_posterior_numba`` with a numpy reference) <- ``network`` (structure, parameters
with pgmpy; EI = 1 - E[hemeroby] / max). It reads the products of the other parts (land-cover
maps, annual products, acoustic site evidence), never their internals.
"""

from .discretise import Discretiser
from .hemeroby import HemerobyTable, load_hemeroby_table, shipped_hemeroby_tables
from .inference import (
    Factor,
    MarkovBlanket,
    latent_posterior,
    latent_posterior_reference,
    latent_summary,
)
from .network import IntegrityNetwork, effort_likelihood, read_adjacency, summarise_posterior

__all__ = [
    "Discretiser",
    "Factor",
    "HemerobyTable",
    "IntegrityNetwork",
    "MarkovBlanket",
    "effort_likelihood",
    "latent_posterior",
    "latent_posterior_reference",
    "latent_summary",
    "load_hemeroby_table",
    "read_adjacency",
    "shipped_hemeroby_tables",
    "summarise_posterior",
]
