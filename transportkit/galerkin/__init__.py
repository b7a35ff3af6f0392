r"""Neural Galerkin schemes: sequential-in-time training of nonlinear parametrizations for evolution equations.

A time-dependent PDE :math:`\partial_t u = f(t, x, u)` is solved by evolving the parameters of an ansatz
:math:`u(x;\theta(t))` with the Dirac–Frenkel principle (:func:`solve`, in :mod:`.solver`): :math:`\dot\theta`
minimizes :math:`\int|\nabla_\theta u\cdot\dot\theta - f|^2\,d\nu_t` on samples of :math:`\nu_t` (fixed,
resampled, or adaptive particles coupled to :math:`\theta`, :mod:`.particles`). Parametrizations with analytic
derivatives are in :mod:`.params`, built-in PDEs in :mod:`.pde`, the least-squares step, time steppers and
initial fit in :mod:`.schemes`, the KdV benchmark in :mod:`.kdv`; the OtD/DtO time steps in :mod:`.training`
(DtO fitted by Adam in :mod:`.dto_adam`), the a-posteriori error estimates in :mod:`.estimates`,
:class:`GalerkinResult` in :mod:`.result`.

Sources: Bruna, Peherstorfer & Vanden-Eijnden, "Neural Galerkin schemes with active learning for
high-dimensional evolution equations", J. Comput. Phys. 2024 (arXiv:2203.01360); Zhang, Chen, Vanden-Eijnden &
Peherstorfer (arXiv:2404.01145); Wen, Vanden-Eijnden & Peherstorfer, Physica D 2024 (arXiv:2306.15630).
"""

from __future__ import annotations

from .kdv import demo, kdv_guess, run_kdv
from .params import AutodiffParametrization, GaussianUnits, Parametrization, TanhUnits, gaussian_density
from .particles import (
    AdaptiveParticles,
    GaussianSampler,
    GridSampler,
    Sampler,
    UniformSampler,
    UnitSampler,
)
from .pde import PDE, advection, allen_cahn, kdv, ou_fokker_planck
from .schemes import (
    LstsqInfo,
    fit_initial,
    galerkin_velocity,
    implicit_step,
    regularized_lstsq,
    rk_step,
)
from .solver import GalerkinResult, relative_l2_error, solve

__all__ = [
    "PDE",
    "AdaptiveParticles",
    "AutodiffParametrization",
    "GalerkinResult",
    "GaussianSampler",
    "GaussianUnits",
    "GridSampler",
    "LstsqInfo",
    "Parametrization",
    "Sampler",
    "TanhUnits",
    "UniformSampler",
    "UnitSampler",
    "advection",
    "allen_cahn",
    "demo",
    "fit_initial",
    "galerkin_velocity",
    "gaussian_density",
    "implicit_step",
    "kdv",
    "kdv_guess",
    "ou_fokker_planck",
    "regularized_lstsq",
    "relative_l2_error",
    "rk_step",
    "run_kdv",
    "solve",
]
