r"""Target densities with exact log-densities, gradients and samplers.

Every target is a :class:`Target`: ``dim``, ``log_Z`` (the log normalizing constant of the density that
``log_prob`` returns; 0.0 for normalized densities), ``log_prob(x)``, ``grad_log_prob(x)`` and, where exact
sampling is possible, ``sample(n, seed)``. Inputs may be arrays of any backend; results come back on the
backend of ``x`` (NumPy in, NumPy out). Parameters are stored once on the host (float64) and moved to each
backend on first use (cached per backend, device and dtype).

This module is the public face: the base class (:mod:`transportkit.target_base`), the Gaussian family
(:mod:`transportkit.gaussians`) and the benchmark targets (:mod:`transportkit._target_zoo`), each module importing
only the floors below it (no import circle).
"""

from ._target_zoo import GMM40, GMM40_MEANS, Funnel, ManyWell, Phi4, StudentTMixture
from .gaussians import Gaussian, GaussianMixture, _as_covs, gaussian_terms
from .highdim_targets import CurieWeiss, GaussianRandomField, SymmetricMixture
from .target_base import BoundTarget, Target

__all__ = [
    "GMM40",
    "GMM40_MEANS",
    "BoundTarget",
    "CurieWeiss",
    "Funnel",
    "Gaussian",
    "GaussianMixture",
    "GaussianRandomField",
    "ManyWell",
    "Phi4",
    "StudentTMixture",
    "SymmetricMixture",
    "Target",
    "_as_covs",
    "gaussian_terms",
]
