r"""Log-likelihoods by integrating the probability flow backward (Chen, Rubanova,
Bettencourt & Duvenaud, "Neural Ordinary Differential Equations", 2018, arXiv:1806.07366; Hutchinson's
trace estimator as in Grathwohl et al., "FFJORD", 2018, arXiv:1810.01367).

.. math:: \log\rho_1(x) = \log\rho_0(X_0) - \int_0^1 \nabla\cdot b(t, X_t)\,dt,\qquad \dot X = b(t, X),\ X_1 = x,

solved for the augmented state :math:`(X, \ell)` with :math:`\dot\ell = \nabla\cdot b` from :math:`t = 1` to
:math:`0`, so :math:`\log\rho_1(x) = \log\rho_0(X_0) + \ell(0)` with :math:`\ell(1) = 0`.

The divergence is exact (analytic for exact and feature fields, an autodiff Jacobian trace for neural fields) or
the Hutchinson estimate :math:`\nabla\cdot b \approx \frac1K\sum_k \xi_k^T(\nabla b)\xi_k` with Rademacher
probes :math:`\xi_k` held fixed along each trajectory; the K probe integrals are independent and unbiased, so
their spread gives the standard error.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._results import Estimate
from .._typing import Array
from ..integrate import ODE_SOLVERS, grid_times, odeint
from ..random import SEED_DEPRECATED, resolve_rng

__all__ = ["log_likelihood", "log_likelihood_hutchinson"]


class _FlowWithDivergence:
    r""":math:`(b, \nabla\cdot b)` of the augmented state; equal for equal (bound field, dimension), so that repeated
    likelihood calls reuse one compiled integration on JAX."""

    def __init__(self, bf: Any, d: int):
        self.bf, self.d = bf, d

    def __call__(self, t: Any, z: Any) -> Any:
        y = z[:, : self.d]
        return self.bf.xp.concat([self.bf.velocity(t, y), self.bf.divergence(t, y)[:, None]], axis=1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _FlowWithDivergence) and other.bf is self.bf and other.d == self.d

    def __hash__(self) -> int:
        return hash((id(self.bf), self.d))


def _integrate(
    field: Any, x: Any, steps: int, solver: str, divergence: str, probes: int, grid: Any, rng: Any, seed: Any,
    rng_on_host: bool, progress: bool, backend: Any,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """(backend, log rho_0(X_0) (n,), the divergence integrals (n, k)): k = 1 exact, or one per Hutchinson probe."""
    if solver not in ODE_SOLVERS:
        raise ValueError(f"unknown ODE solver {solver!r}; use one of {ODE_SOLVERS}")
    if divergence == "hutchinson" and (not isinstance(probes, int) or probes < 2):
        raise ValueError(f"the Hutchinson estimator needs probes >= 2 (for its standard error), got {probes!r}")
    be = resolve_backend(x, backend=backend)
    xp = be.xp
    x = be.asarray(x)
    if x.ndim != 2 or x.shape[1] != field.dim:
        raise ValueError(f"x must have shape (n, {field.dim}), got {tuple(x.shape)}")
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError("x contains NaN or inf")
    ts = grid_times(grid, steps, (1.0, 0.0), be)
    if ts[0] < ts[-1]:
        ts = ts[::-1]
    n, d = x.shape
    bf = field.bind(be)
    if divergence == "exact":
        f = _FlowWithDivergence(bf, d)
        k = 1
    else:
        gen = resolve_rng(rng, be, seed=seed, rng_on_host=rng_on_host)
        xi = 2.0 * xp.astype(gen.uniform((probes, n, d)) < 0.5, be.dtype) - 1.0
        k = probes

        xi_flat = xp.reshape(xi, (k * n, d))

        def f(t, z):  # all probes in one batched call: the points repeated once per probe
            y = z[:, :d]
            yk = xp.reshape(xp.broadcast_to(y[None, ...], (k, n, d)), (k * n, d))
            q = xp.reshape(bf.quad_form(t, yk, xi_flat), (k, n))
            return xp.concat([bf.velocity(t, y), xp.linalg.matrix_transpose(q)], axis=1)

    z0 = xp.concat([x, xp.zeros((n, k), dtype=x.dtype, device=be.device)], axis=1)
    z1 = odeint(f, z0, grid=ts, solver=solver, progress=progress, backend=be)
    x0, ell = z1[:, :d], z1[:, d:]
    return be, bf.base_log_prob(x0, ts[-1]), ell


def _hutchinson_estimate(be: Any, lp0: Any, ell: Any) -> Estimate:
    xp, k = be.xp, ell.shape[1]
    vals = lp0[:, None] + ell
    mean = xp.mean(vals, axis=1)
    sd = xp.sqrt(xp.sum((vals - mean[:, None]) ** 2, axis=1) / (k - 1))
    return Estimate(mean, sd / math.sqrt(k), backend=be)


@declare(uses=("value_and_grad", "jit"))
def log_likelihood(
    field: Any,
    x: Any,
    *,
    steps: int = 200,
    solver: str = "rk4",
    divergence: str = "exact",
    probes: int = 16,
    grid: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    rng_on_host: bool = False,
    progress: bool = False,
    backend: Any = None,
) -> Array:
    r""":math:`\log\rho_1(x)` of the model defined by ``field`` (base at :math:`t = 0`), shape (n,), with the exact
    divergence (analytic for exact and feature fields, an autodiff Jacobian trace for neural fields).

    ``grid`` overrides ``steps`` (it must run from 1 down to 0, or is reversed). For the Hutchinson estimate with
    its standard error use :func:`log_likelihood_hutchinson`. ``divergence="hutchinson"`` here is its old spelling,
    deprecated (a ``DeprecationWarning``): it returns that function's :class:`transportkit.Estimate`, not an array;
    ``probes``, ``rng``, ``seed``, ``rng_on_host`` only serve that spelling.
    """
    if divergence not in ("exact", "hutchinson"):
        raise ValueError(f"divergence must be 'exact' or 'hutchinson', got {divergence!r}")
    if divergence == "hutchinson":
        warnings.warn(
            "log_likelihood(..., divergence='hutchinson') is deprecated: it returns an Estimate, not an array; "
            "call log_likelihood_hutchinson(field, x, probes=...) instead",
            DeprecationWarning,
            stacklevel=2,
        )
    be, lp0, ell = _integrate(field, x, steps, solver, divergence, probes, grid, rng, seed, rng_on_host, progress,
                              backend)  # fmt: skip
    if divergence == "hutchinson":
        return _hutchinson_estimate(be, lp0, ell)  # type: ignore[return-value]  # the old spelling
    return lp0 + ell[:, 0]


@declare(uses=("value_and_grad", "jit"))
def log_likelihood_hutchinson(
    field: Any,
    x: Any,
    *,
    probes: int = 16,
    steps: int = 200,
    solver: str = "rk4",
    grid: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    rng_on_host: bool = False,
    progress: bool = False,
    backend: Any = None,
) -> Estimate:
    r""":math:`\log\rho_1(x)` with Hutchinson's trace estimator (Hutchinson 1989; Grathwohl et al. 2018,
    arXiv:1810.01367): :math:`\nabla\cdot b \approx \frac1K\sum_k \xi_k^T(\nabla b)\xi_k` with ``probes`` = K
    Rademacher probes held fixed along each trajectory. Returns a :class:`transportkit.Estimate` ``(value, stderr)``
    of shape (n,): the mean of the K independent, unbiased probe integrals and the standard error from their spread
    (``probes >= 2``). ``rng``: the probes (SPEC 7; ``seed=`` deprecated alias); ``grid`` as in
    :func:`log_likelihood`.
    """
    be, lp0, ell = _integrate(field, x, steps, solver, "hutchinson", probes, grid, rng, seed, rng_on_host, progress,
                              backend)  # fmt: skip
    return _hutchinson_estimate(be, lp0, ell)
