"""The result of the Neural Galerkin solver (:class:`GalerkinResult`) and its assembly from the per-step outputs."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from .._backend import Backend
from .._results import Result
from ..errors import NonFiniteWarning
from .estimates import accumulate
from .params import Parametrization
from .pde import PDE

__all__ = ["GalerkinResult", "relative_l2_error"]


@dataclasses.dataclass
class GalerkinResult(Result):
    """Output of :func:`solve`.

    Fields: ``t`` ``(K,)`` saved times; ``theta`` ``(K, p)`` parameters at those times; ``particles``
    ``(K, n, d)`` the sample points used in the step starting at each saved time (the last entry: the points
    at the final time); ``rank``, ``cond`` (lists, one per step): numerical rank and condition number of the
    sampled Jacobian; ``fit_error``: relative residual of the initial fit; ``n_steps``: time steps taken;
    ``param``, ``pde``: what was solved. ``result(x, t=None)`` evaluates :math:`u(x;\\theta(t))` at a saved
    time (default: the final one).

    ``training`` is ``"otd"`` or ``"dto"``; ``residual`` (one per step) is the root-mean-square residual over the
    samples of the step: :math:`\\|J\\dot\\theta - f\\|_{\\nu_n}` of the least-squares problem (OtD, first stage) or
    :math:`\\|u(\\theta_{k+1}) - u(\\theta_k) - \\Delta t[(1-\\alpha)f_k + \\alpha f_{k+1}]\\|_{\\nu_n}/\\Delta t`
    of the fit (DtO). The error :math:`e = u_\\theta - u^*` obeys the error equation
    :math:`\\dot e = r + f(u_\\theta) - f(u_\\theta - e)` (:math:`r` the residual), so
    :math:`e(t) = \\int_0^tS(t,s)r(s)\\,ds` plus the propagated :math:`e_0 = u(\\theta_0) - u_0`, :math:`S` the solution
    operator of the linearized flow (Bruna, Peherstorfer & Vanden-Eijnden, arXiv:2203.01360; Zhang, Chen,
    Vanden-Eijnden & Peherstorfer, arXiv:2404.01145). Three a-posteriori quantities at the saved times ``(K,)``,
    root-mean-square over the samples, ``NaN`` when the PDE has no ``u0``:

    - ``error_estimate``: where the problem allows it (``error_method == "propagated"``: a periodic PDE with
      ``linear_symbol`` on its full periodic grid, :mod:`transportkit.galerkin.grid_error`), the error equation
      integrated alongside the run, :math:`e_{k+1} = u(\\theta_{k+1}) - \\Phi_{\\Delta t}(u(\\theta_k) - e_k)` with
      :math:`\\Phi` a Lawson–RK4 step of the PDE on the grid: an estimate (not a bound) with the accuracy of that
      pseudo-spectral step, within 3 % of the true KdV error (docs/galerkin.md). Otherwise the same value as
      ``error_accumulated`` (``error_method`` ``"accumulated"``, or ``"bound"`` when the samples move or are
      redrawn).
    - ``error_accumulated`` :math:`= \\|e_0 + \\sum_{k<K}\\Delta t\\,r_k\\|` (the residuals accumulated point by point:
      the error equation with :math:`S = I`; needs fixed samples, else it falls back to ``error_bound``). It omits
      the propagation of the residuals by the dynamics and the integrator's own time-discretization error: on KdV it
      is 2–4 times the true error.
    - ``error_bound`` :math:`= \\|e_0\\| + \\sum_{k<K}\\Delta t\\,\\|r_k\\|` (the triangle inequality: a bound of the
      :math:`S = I` error when the flow does not amplify errors — exact for a linear skew-adjoint :math:`f`, an
      assumption otherwise — pessimistic when the residuals of different steps cancel).
    """

    t: Any
    theta: Any
    particles: Any
    rank: list[int]
    cond: list[float]
    fit_error: float
    n_steps: int
    param: Any = dataclasses.field(repr=False, default=None)
    pde: Any = dataclasses.field(repr=False, default=None)
    residual: list[float] = dataclasses.field(default_factory=list)
    error_estimate: Any = None
    error_bound: Any = None
    training: str = "otd"
    error_accumulated: Any = None
    error_method: str = "accumulated"

    @property
    def steps(self) -> int:
        """The number of time steps (the library's name for step counts; ``n_steps`` is kept for compatibility)."""
        return self.n_steps

    def _index(self, t: float | None) -> int:
        K = self.t.shape[0]
        if t is None:
            return K - 1
        ts = [float(v) for v in self.backend.to_numpy(self.t).tolist()] if self.backend else list(self.t)
        k = min(range(K), key=lambda i: abs(ts[i] - float(t)))
        if abs(ts[k] - float(t)) > 1e-9 * max(1.0, abs(float(t))):
            raise ValueError(f"t = {t} is not a saved time; saved times span [{ts[0]}, {ts[-1]}]")
        return k

    def solution(self, x: Any, t: float | None = None) -> Any:
        """:math:`u(x;\\theta(t))` for ``x`` ``(n, d)`` at the saved time nearest ``t`` (must match)."""
        be = self.backend
        x = be.asarray(x)
        return self.param.value(self.theta[self._index(t), :], x)

    __call__ = solution


def relative_l2_error(result: GalerkinResult, x: Any, t: float | None = None, exact: Any = None) -> float:
    r"""Relative error :math:`\|u(\cdot;\theta(t)) - u^*(t)\|/\|u^*(t)\|` on the points ``x`` (a quadrature
    grid or samples of a measure), against ``exact(t, x, xp)`` (default: ``result.pde.exact``)."""
    be = result.backend
    xp = be.xp
    x = be.asarray(x)
    k = result._index(t)
    tt = float(be.to_numpy(result.t[k]))
    ex = exact if exact is not None else result.pde.exact
    if ex is None:
        raise ValueError(f"{result.pde.name} has no exact solution: pass exact=")
    ue = ex(tt, x, xp)
    u = result.param.value(result.theta[k, :], x)
    return float(xp.linalg.vector_norm(u - ue)) / float(xp.linalg.vector_norm(ue))


def assemble_result(be: Backend, outs: list[tuple], theta0: Any, X0: Any, n_steps: int, h: float, se: int,
            fit_error: float, param: Parametrization, pde: PDE, max_steps: int,
            training: str = "otd", e0: float = float("nan"), fixed: bool = True,
            propagated: bool = False) -> GalerkinResult:
    """Assemble the :class:`GalerkinResult` (one host transfer of the per-step diagnostics)."""
    xp = be.xp
    thetas = xp.concat([theta0[None, :], *[o[0] for o in outs]], axis=0)
    Xs = xp.concat([X0[None, ...], *[o[1] for o in outs]], axis=0)
    ranks, conds, finite, counts, resid, signed, prop = (
        be.to_numpy(xp.concat([xp.reshape(o[j], (-1,)) for o in outs])) for j in (2, 3, 4, 5, 6, 7, 8))
    spent = [k for k, c in enumerate(counts.tolist()) if c >= max_steps]
    if spent:
        raise RuntimeError(f"dopri5 used up max_steps={max_steps} attempted steps before t = {(spent[0] + 1) * h:.6g} "
                           f"(step {spent[0] + 1} of {n_steps}); loosen rtol/atol or pass a larger max_steps=")
    bad = [k for k, ok in enumerate(finite.tolist()) if not ok]
    if bad:
        k = bad[0]
        raise FloatingPointError(f"non-finite parameters at t = {(k + 1) * h:.6g} (step {k + 1}); reduce dt or add "
                                 "ridge")
    times = [0.0] + [min(k, n_steps) * h for k in range(se, n_steps + se, se)]
    resid = [float(r) for r in resid.tolist()]
    saved = [min(k, n_steps) for k in [0, *range(se, n_steps + se, se)]]
    bound, accumulated = accumulate(e0, resid, [float(v) for v in signed.tolist()], saved, h, fixed)
    if propagated:
        prop_all = [e0, *(float(v) for v in prop.tolist())]
        est, method = [prop_all[k] for k in saved], "propagated"
        bad_e = [k for k, v in enumerate(prop_all) if not math.isfinite(v)]
        if bad_e and math.isfinite(e0):
            warnings.warn(f"the error equation integrated on the grid became non-finite at t = {bad_e[0] * h:.6g}: "
                          "error_estimate is not a number from there on (a smaller dt, or error_accumulated)",
                          NonFiniteWarning, stacklevel=3)
    else:
        est, method = accumulated, "accumulated" if fixed else "bound"
    return GalerkinResult(
        t=xp.asarray(times, dtype=be.dtype, device=be.device), theta=thetas, particles=Xs,
        rank=[int(r) for r in ranks.tolist()], cond=[float(c) for c in conds.tolist()], fit_error=fit_error,
        n_steps=n_steps, param=param, pde=pde, residual=resid,
        error_estimate=xp.asarray(est, dtype=be.dtype, device=be.device),
        error_bound=xp.asarray(bound, dtype=be.dtype, device=be.device), training=training, backend=be,
        error_accumulated=xp.asarray(accumulated, dtype=be.dtype, device=be.device), error_method=method,
    )
