r"""Stochastic interpolants: schedules, exact fields, losses, learned fields and likelihoods.

:math:`x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z` between a base :math:`\rho_0` and a target
:math:`\rho_1` (Albergo & Vanden-Eijnden 2022, arXiv:2209.15571;
Albergo, Boffi & Vanden-Eijnden 2023, arXiv:2303.08797). Generate with :func:`transportkit.sample`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..random import SEED_DEPRECATED
from . import couplings, forecasting, multimarginal, operator_time
from .couplings import Coupling
from .design import (
    LipschitzResult,
    dilated_schedule,
    geodesic_schedule,
    lipschitz,
    optimal_diffusion,
    optimal_gaussian_schedule,
)
from .exact import ExactField, exact_field
from .field import Base, BoundField, ConditionedField, Field
from .fit import FeatureModel, TensorFeatures, fit_score, fit_velocity, sliced_w2
from .interpolant import Interpolant
from .likelihood import log_likelihood, log_likelihood_hutchinson
from .mlp import MLPModel, train_velocity
from .schedules import GAMMAS, SCHEDULES, Schedule
from .spectral import (
    SpectralField,
    energy_spectrum,
    expected_energy_spectrum,
    plot_energy_spectrum,
    scale_adaptive,
    spectral_field,
)
from .transfer import TransferredField, transfer

if TYPE_CHECKING:
    from ..gaussians import GaussianMixture

__all__ = [
    "GAMMAS",
    "SCHEDULES",
    "Base",
    "BoundField",
    "ConditionedField",
    "Coupling",
    "ExactField",
    "FeatureModel",
    "Field",
    "Interpolant",
    "LipschitzResult",
    "MLPModel",
    "Schedule",
    "SpectralField",
    "TensorFeatures",
    "TransferredField",
    "couplings",
    "dilated_schedule",
    "eight_mode_mixture",
    "energy_spectrum",
    "exact_field",
    "expected_energy_spectrum",
    "fit_score",
    "fit_velocity",
    "forecasting",
    "geodesic_schedule",
    "lipschitz",
    "log_likelihood",
    "log_likelihood_hutchinson",
    "multimarginal",
    "operator_time",
    "optimal_diffusion",
    "optimal_gaussian_schedule",
    "plot_energy_spectrum",
    "scale_adaptive",
    "sliced_w2",
    "spectral_field",
    "train_velocity",
    "transfer",
]


def eight_mode_mixture(radius: float = 4.0, rng: Any = 0, *, seed: Any = SEED_DEPRECATED) -> GaussianMixture:
    """The 2-D test mixture of the docs and demo: 8 modes on a circle, random weights and small covariances
    (``rng`` draws them: the default 0 is the documented mixture; ``seed=`` deprecated alias)."""
    import math

    from .._backend import host_backend
    from .._validation import as_real
    from ..random import resolve_rng
    from ..targets import GaussianMixture

    radius = as_real("radius", radius, low=0.0, low_open=True)
    be = host_backend()
    xp, gen = be.xp, resolve_rng(rng, be, seed=seed)
    ang = xp.arange(8, dtype=xp.float64) * (2 * math.pi / 8)
    m = radius * xp.stack([xp.cos(ang), xp.sin(ang)], axis=1)
    w = gen.uniform((8,), low=0.5, high=1.5)
    b = 0.25 * gen.normal((8, 2, 2))
    c = b @ xp.linalg.matrix_transpose(b) + 0.1 * xp.eye(2)
    return GaussianMixture(w / xp.sum(w), m, c)
