r"""The PINN objective of NETS as linear least squares (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium
Transport Sampler", 2024, arXiv:2410.02711).

At perfect transport :math:`\nabla\cdot b + s_t\cdot b + \partial_t\log\rho_t + \partial_tF_t = 0`
(:math:`F_t = -\log Z_t`), linear in (b, ∂F). With :math:`b_t(x) = \sum_j\theta_j(t)\psi_j(x)` the loss at a grid
time,

.. math:: L_k(\theta, c) = \frac1m\sum_i\Big|\sum_j\theta_j\big(\nabla\cdot\psi_j + s_{t_k}\cdot\psi_j\big)(x^i_k)
          + \partial_t\log\rho_{t_k}(x^i_k) + c\Big|^2,

is solved with a relative ridge (``G + ridge * diag(G)``) on the walkers :math:`x^i_k`; between fitted times the
drift is interpolated linearly in t, and :math:`-\int_0^1 c\,dt` (trapezoid) is a second estimate of
:math:`\log(Z_1/Z_0)`.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

from array_api_compat import array_namespace

from .features import DriftModel

__all__ = ["InterpolatedDrift", "fit_drift_model", "interpolated_drift", "log_Z_pinn"]


def fit_drift_model(path: Any, t: float, xs: Any, fams: list, ridge: float, xp: Any) -> DriftModel:
    """Least squares for (theta, c) at time t on the walkers xs (non-finite rows get zero weight)."""
    parts = path.evaluate(xs)
    s, y = path.grad(t, parts), path.dt_log_prob(t, parts)
    ok = xp.all(xp.isfinite(s), axis=1) & xp.isfinite(y)
    s = xp.where(ok[:, None], s, xp.zeros_like(s))
    y = xp.where(ok, y, xp.zeros_like(y))
    lap = path.laplacian(t, xs) if any(getattr(f, "needs_laplacian", False) for f in fams) else None
    if lap is not None:
        ok = ok & xp.isfinite(lap)
        lap = xp.where(ok, lap, xp.zeros_like(lap))
    M = xp.concat([f.design(xs, s, lap, xp) for f in fams], axis=1)
    M = xp.where(ok[:, None], M, xp.zeros_like(M))
    n = xs.shape[0]
    mM, my = xp.mean(M, axis=0), xp.mean(y)
    Mc, yc = M - mM, y - my
    G = xp.linalg.matrix_transpose(Mc) @ Mc / n
    dg = xp.linalg.diagonal(G)
    reg = ridge * dg + 1e-10 * xp.mean(dg) + 1e-300
    G = G + xp.eye(G.shape[0], dtype=G.dtype, device=getattr(G, "device", None)) * reg[None, :]
    rhs = -(xp.linalg.matrix_transpose(Mc) @ yc) / n
    theta = xp.linalg.solve(G, rhs[:, None])[:, 0]
    c = float(-my - mM @ theta)
    return DriftModel(fams, theta, c)


def interpolated_drift(models: Sequence[DriftModel], times: Sequence[float], path: Any) -> InterpolatedDrift:
    r"""``drift(t, x, s, need_div) -> (b, div b)``: linear interpolation in t between the models fitted at the
    neighbouring ``times``; ``s`` is the path's score at (t, x) (for the score feature)."""
    return InterpolatedDrift(list(models), list(times), path)


class InterpolatedDrift:
    r"""The least-squares drift between fitted times, linear in t (see :func:`interpolated_drift`).

    ``t`` a Python number: the interval is found on the host and only the models it needs are evaluated. ``t`` a
    0-d array (inside a compiled loop): the models' parameters, stacked over the fitted times once, are taken at the
    traced interval index, so the drift traces into one program (the divergence of a score feature needs the
    path's Laplacian, which does not trace: the simulator keeps such runs in Python, see ``needs_laplacian``)."""

    def __init__(self, models: list[DriftModel], times: list[float], path: Any):
        self.models, self.times, self.path = models, times, path
        self.needs_laplacian = models[0].needs_laplacian
        self._stacked: tuple | None = None

    def __call__(self, t: Any, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
        if not isinstance(t, (int, float)):
            return self._traced(t, x, s, need_div)
        models, times = self.models, self.times
        j = max(0, min(bisect.bisect_right(times, t) - 1, len(times) - 2))
        w = (t - times[j]) / (times[j + 1] - times[j])
        xp = array_namespace(x)
        cache: list = []

        def lap() -> Any:
            if not cache:
                cache.append(self.path.laplacian(t, x))
            return cache[0]

        lp = lap if need_div else None
        if w <= 1e-12:
            return models[j](x, xp, s, lp)
        if w >= 1 - 1e-12:
            return models[j + 1](x, xp, s, lp)
        b0, d0 = models[j](x, xp, s, lp)
        b1, d1 = models[j + 1](x, xp, s, lp)
        return (1 - w) * b0 + w * b1, (1 - w) * d0 + w * d1

    @property
    def compile_spec(self) -> tuple:
        """What a compiled program that evaluates this drift from :meth:`compile_params` depends on besides array
        shapes: the number of fitted times and each family's type and static attributes."""
        fams = tuple(
            (type(f).__name__, tuple(sorted((k, v) for k, v in vars(f).items() if not _is_array(v))))
            for f in self.models[0].families
        )
        return ("interpolated", len(self.times), fams)

    def compile_params(self, xp: Any) -> tuple:
        """(times, theta (m, P), per family {attribute: stacked array}) over the m fitted times: the arguments of a
        compiled program (so that one compilation serves every drift with the same :attr:`compile_spec`)."""
        if self._stacked is None:
            fams = self.models[0].families
            arrays = [
                {a: xp.stack([vars(m.families[i])[a] for m in self.models]) for a, v in vars(f).items() if _is_array(v)}
                for i, f in enumerate(fams)
            ]
            theta = xp.stack([m.theta for m in self.models])
            tt = xp.asarray(self.times, dtype=theta.dtype, device=getattr(theta, "device", None))
            self._stacked = (tt, theta, arrays)
        return self._stacked

    def with_params(self, params: tuple) -> Callable:
        """The drift evaluated from ``params`` (shaped as :meth:`compile_params`) at an array time."""

        def drift(t: Any, x: Any, s: Any, need_div: bool) -> tuple[Any, Any]:
            return self._traced(t, x, s, need_div, params)

        return drift

    def _model_at(self, j: Any, xp: Any, params: tuple) -> DriftModel:
        _, theta, arrays = params
        fams = []
        for f, arr in zip(self.models[0].families, arrays, strict=True):
            g = copy.copy(f)
            for a, v in arr.items():
                setattr(g, a, _at(v, j, xp))
            fams.append(g)
        return DriftModel(fams, _at(theta, j, xp), 0.0)

    def _traced(self, t: Any, x: Any, s: Any, need_div: bool, params: tuple | None = None) -> tuple[Any, Any]:
        xp = array_namespace(x)
        params = self.compile_params(xp) if params is None else params
        tt = params[0]
        last = len(self.times) - 2
        j = xp.clip(xp.searchsorted(tt, xp.reshape(t, (1,)), side="right")[0] - 1, 0, last)
        t0 = _at(tt, j, xp)
        w = (t - t0) / (_at(tt, j + 1, xp) - t0)
        lap = (lambda: self.path.laplacian(t, x)) if need_div else None
        b0, d0 = self._model_at(j, xp, params)(x, xp, s, lap)
        b1, d1 = self._model_at(j + 1, xp, params)(x, xp, s, lap)
        return (1 - w) * b0 + w * b1, (1 - w) * d0 + w * d1


def _at(v: Any, j: Any, xp: Any) -> Any:
    """``v[j]`` for a 0-d integer array ``j`` (traced or not), in the standard's spelling."""
    return xp.take(v, xp.reshape(j, (1,)), axis=0)[0, ...]


def _is_array(v: Any) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype")


def log_Z_pinn(models: Sequence[DriftModel], times: Sequence[float], log_Z0: float) -> float:
    r""":math:`\log Z_0 - \int_0^1 \partial_tF\,dt` by the trapezoid rule over the fitted ``c`` at ``times``."""
    cs = [m.c for m in models]
    return log_Z0 - math.fsum(0.5 * (cs[j] + cs[j + 1]) * (times[j + 1] - times[j]) for j in range(len(times) - 1))
