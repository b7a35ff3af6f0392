"""Probability flows of Fokker–Planck equations: score-based transport (SBTM), entropy production rates, and neural
conservation laws (Boffi & Vanden-Eijnden 2023, arXiv 2206.04642 and 2309.12991; Hua et al. 2025, arXiv 2506.18604).

- :func:`sbtm` moves samples of ρ₀ by the probability flow ``v = b − D∇log ρ_t`` with the score refitted each step,
  tracking log-densities and the entropy;
- :func:`entropy_production` estimates ``Π = E[v·D⁻¹v]`` at stationarity, with per-particle contributions;
- :class:`ConservationLaw` parametrizes (ρ_t, j_t) with ``∂_tρ + ∇·j = 0`` built in, trained by maximum likelihood;
- :class:`FeatureScore` is the closed-form (implicit score matching) score model used by the first two;
- :func:`ornstein_uhlenbeck` and :func:`harmonic_trap` are the exact test systems.
"""

from __future__ import annotations

from .conservation import ConservationLaw
from .epr import EntropyProduction, entropy_production
from .examples import HarmonicTrap, OrnsteinUhlenbeck, harmonic_trap, ornstein_uhlenbeck
from .sbtm import SBTMResult, sbtm
from .scores import FeatureScore

__all__ = [
    "ConservationLaw",
    "EntropyProduction",
    "FeatureScore",
    "HarmonicTrap",
    "OrnsteinUhlenbeck",
    "SBTMResult",
    "entropy_production",
    "harmonic_trap",
    "ornstein_uhlenbeck",
    "sbtm",
]
