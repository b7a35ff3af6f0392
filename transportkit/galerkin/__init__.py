r"""Neural Galerkin schemes: sequential-in-time training of nonlinear parametrizations for evolution equations.

A time-dependent PDE :math:`\partial_t u = f(t, x, u)` is solved by evolving the parameters of an ansatz
:math:`u(x;\theta(t))` with the Dirac–Frenkel principle: :math:`\dot\theta` minimizes
:math:`\int|\nabla_\theta u\cdot\dot\theta - f|^2\,d\nu_t`, i.e. :math:`M(\theta)\dot\theta = F(\theta)`
with :math:`M = E_\nu[\nabla_\theta u\nabla_\theta u^T]`, :math:`F = E_\nu[\nabla_\theta u\,f]`, solved as a
regularized least-squares problem on samples of :math:`\nu_t` (fixed, resampled, or adaptive particles
whose dynamics are coupled to :math:`\theta`). See :func:`solve`.

Sources: Bruna, Peherstorfer, Vanden-Eijnden (JCP 2024, arXiv 2203.01360); Zhang, Chen, Vanden-Eijnden,
Peherstorfer (arXiv 2404.01145); Wen, Vanden-Eijnden, Peherstorfer (Physica D 2024, arXiv 2306.15630).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._results import Result
from ..random import default_rng
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
    _Compiled,
    fit_initial,
    galerkin_velocity,
    implicit_parts,
    implicit_step,
    regularized_lstsq,
    rk_step,
    velocity_arrays,
)

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

_SCHEMES = ("euler", "rk4", "dopri5", "backward_euler", "crank_nicolson")
#: ``solve(jit=None)`` compiles runs with at least this many time steps
_JIT_MIN_STEPS = 50


@dataclasses.dataclass
class GalerkinResult(Result):
    """Output of :func:`solve`.

    Fields: ``t`` ``(K,)`` saved times; ``theta`` ``(K, p)`` parameters at those times; ``particles``
    ``(K, n, d)`` the sample points used in the step starting at each saved time (the last entry: the points
    at the final time); ``rank``, ``cond`` (lists, one per step): numerical rank and condition number of the
    sampled Jacobian; ``fit_error``: relative residual of the initial fit; ``n_steps``: time steps taken;
    ``param``, ``pde``: what was solved. ``result(x, t=None)`` evaluates :math:`u(x;\\theta(t))` at a saved
    time (default: the final one).
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


def _default_sampler(pde: PDE, param: Parametrization) -> Sampler:
    if pde.d == 1:
        return GridSampler(pde.low, pde.high, 512, periodic=pde.periodic)
    if hasattr(param, "centers_and_scales"):
        return AdaptiveParticles(64)
    return UniformSampler(pde.low, pde.high, 2000)


def _fit_points(pde: PDE, param: Parametrization, theta: Any, sampler: Sampler, gen: Any, xp: Any) -> Any:
    if isinstance(sampler, GridSampler):
        return sampler.initial(param, theta, gen, xp)
    pts = [UniformSampler(pde.low, pde.high, 256 * pde.d, resample=False).initial(param, theta, gen, xp)]
    if hasattr(param, "centers_and_scales"):
        pts.append(UnitSampler(512, kappa=1.5).initial(param, theta, gen, xp))
    return xp.concat(pts, axis=0)


@declare(uses=("value_and_grad", "jit"))
def solve(
    pde: PDE,
    param: Parametrization,
    theta0: Any,
    t_final: float,
    dt: float,
    *,
    sampler: Sampler | None = None,
    scheme: str = "rk4",
    fit: bool = True,
    fit_points: Any = None,
    fit_iters: int = 200,
    rcond: float = 1e-10,
    ridge: float = 0.0,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    newton_iters: int = 5,
    save_every: int = 1,
    seed: Any = 0,
    jit: bool | None = None,
    derivatives: str = "auto",
    backend: Any = None,
    progress: bool = False,
) -> GalerkinResult:
    r"""Solve :math:`\partial_t u = f` on :math:`[0, T]` with a Neural Galerkin scheme.

    Parameters
    ----------
    pde
        a :class:`PDE` (e.g. :func:`advection`, :func:`kdv`, :func:`allen_cahn`, :func:`ou_fokker_planck`).
    param
        the parametrization (:class:`GaussianUnits`, :class:`TanhUnits`, or a subclass of
        :class:`Parametrization` with ``evaluate``).
    theta0
        ``(p,)`` initial parameters; with ``fit=True`` the starting guess of the Levenberg–Marquardt fit
        of :math:`u(\cdot;\theta(0))` to ``pde.u0`` on ``fit_points`` (default: the sampler's grid, or uniform
        box points plus points around the guess's units).
    t_final, dt
        final time and step (``t_final/dt`` is rounded to an integer number of steps; ``dopri5``
        uses ``dt`` as the output interval and adapts its internal step to ``rtol``/``atol``).
    sampler
        the sampling measure (default: a 512-point grid in 1-D, :class:`AdaptiveParticles` for Gaussian
        units in higher dimension, else 2000 uniform points).
    scheme
        ``"euler"``, ``"rk4"``, ``"dopri5"`` (OtD) or ``"backward_euler"``, ``"crank_nicolson"`` (DtO).
    rcond, ridge
        truncation and Tikhonov regularization of the least-squares step
        (:func:`regularized_lstsq`).
    save_every
        keep :math:`\theta` and the particles every that many steps (and at the end).
    seed
        seeds the samplers.
    jit
        compile the time step (and the kernels of the implicit step and of the initial fit) with the
        backend's ``jit`` where it has one (``Backend.maybe_jit``; a no-op elsewhere). The step is then traced
        once: ``pde.rhs`` receives ``t`` as a 0-d array and must use ``xp`` functions of it (the built-ins do);
        if tracing fails the solver warns and runs uncompiled. ``None`` (default): compile when the run has
        at least 50 time steps (a compilation takes seconds on JAX and pays off after a few tens of steps).
    derivatives
        :math:`\partial_\theta f` in the implicit schemes: ``"auto"`` (exact by the backend's
        ``value_and_grad`` where it has one, else forward differences), ``"autodiff"`` (required) or ``"fd"``.
    backend
        as usual (else from ``theta0``; default numpy).
    progress
        a tqdm bar over time steps.
    """
    if not isinstance(pde, PDE):
        raise ValueError(f"pde must be a PDE, got {type(pde).__name__}")
    if not isinstance(param, Parametrization):
        raise ValueError(f"param must be a Parametrization, got {type(param).__name__}")
    if param.d != pde.d:
        raise ValueError(f"parametrization dimension {param.d} != PDE dimension {pde.d}")
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}")
    if not (t_final > 0 and math.isfinite(t_final)):
        raise ValueError(f"t_final must be positive and finite, got {t_final}")
    if not (0 < dt <= t_final):
        raise ValueError(f"dt must be in (0, t_final], got {dt}")
    if derivatives not in ("auto", "autodiff", "fd"):
        raise ValueError(f"derivatives must be 'auto', 'autodiff' or 'fd', got {derivatives!r}")
    if int(save_every) < 1:
        raise ValueError(f"save_every must be >= 1, got {save_every}")
    if "dxxx" in pde.needs and pde.d != 1:
        raise ValueError("a third derivative needs d = 1")
    be = resolve_backend(theta0, backend=backend)
    xp = be.xp
    theta = be.asarray(theta0)
    if theta.ndim != 1 or theta.shape[0] != param.n_params:
        raise ValueError(f"theta0 must have shape ({param.n_params},), got {tuple(theta.shape)}")
    if not bool(xp.all(xp.isfinite(theta))):
        raise ValueError("theta0 contains NaN or inf")
    if pde.u0 is None and fit:
        raise ValueError(f"{pde.name} has no initial condition u0: pass fit=False with a fitted theta0")
    n_steps = max(1, round(t_final / dt))
    h = t_final / n_steps
    if jit is None:
        jit = n_steps >= _JIT_MIN_STEPS
    sampler = _default_sampler(pde, param) if sampler is None else sampler
    gen_fit, gen = default_rng(seed, be).spawn(2)

    fit_error = float("nan")
    if fit:
        Xf = be.asarray(fit_points) if fit_points is not None else _fit_points(pde, param, theta, sampler, gen_fit, xp)
        if Xf.ndim != 2 or Xf.shape[1] != pde.d:
            raise ValueError(f"fit_points must have shape (n, {pde.d}), got {tuple(Xf.shape)}")
        theta, fit_error = fit_initial(param, pde.u0(Xf, xp), theta, Xf, iters=fit_iters,
                                       jit=be.jit if jit else None)
        if not math.isfinite(fit_error):
            raise ValueError("the initial fit diverged (non-finite residual); try another theta0")

    X = sampler.initial(param, theta, gen, xp)

    def rhs(t: Any, th: Any, XX: Any) -> tuple[Any, Any, Any]:
        v, diag = velocity_arrays(pde, param, th, XX, t, rcond=rcond, ridge=ridge)
        vx = sampler.velocity(XX, param, th, v) if sampler.coupled else None
        return v, vx, diag

    def explicit(t: Any, th: Any, XX: Any, hh: Any) -> tuple[Any, Any, Any, Any]:
        return rk_step(rhs, t, th, XX, hh, scheme)

    jit_fn = be.jit if jit else None
    implicit = scheme in ("backward_euler", "crank_nicolson")
    if implicit:
        vg = be.value_and_grad if derivatives in ("auto", "autodiff") else None
        if derivatives == "autodiff" and vg is None:
            be.require("value_and_grad")
        parts = tuple(
            _Compiled(f, jit_fn)
            for f in implicit_parts(pde, param, alpha=1.0 if scheme == "backward_euler" else 0.5, rcond=rcond,
                                    ridge=ridge, value_and_grad=vg)
        )
    else:
        step = _Compiled(explicit, jit_fn)

    thetas, parts_x, times, diags = [theta], [X], [0.0], []
    steps = range(n_steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"galerkin {pde.name}")
    t = 0.0
    h_ad = h
    for k in steps:
        if scheme in ("euler", "rk4"):
            X = sampler.refresh(X, param, theta, gen)
            theta, X, diag, _ = step(t, theta, X, h)
        elif scheme == "dopri5":
            t_end = (k + 1) * h
            tt = t
            while tt < t_end - 1e-14 * max(1.0, t_end):
                hh = min(h_ad, t_end - tt)
                X = sampler.refresh(X, param, theta, gen)
                th_new, x_new, diag, err = step(tt, theta, X, hh)
                sc = atol + rtol * xp.maximum(xp.abs(theta), xp.abs(th_new))
                en = float(xp.sqrt(xp.mean((err / sc) ** 2)))
                if en <= 1.0 or hh < 1e-12:
                    theta, X, tt = th_new, x_new, tt + hh
                fac = 0.9 * (1.0 / max(en, 1e-10)) ** 0.2
                h_ad = hh * min(5.0, max(0.2, fac)) if math.isfinite(en) else hh * 0.2
        else:
            X = sampler.refresh(X, param, theta, gen)
            theta, info = implicit_step(pde, param, theta, X, t, h, iters=newton_iters, parts=parts)
            diag = (info.rank, info.cond, info.residual)
        t = (k + 1) * h
        diags.append(diag[:2])
        if not bool(xp.all(xp.isfinite(theta))):
            raise FloatingPointError(f"non-finite parameters at t = {t:.6g} (step {k + 1}); reduce dt or add ridge")
        if (k + 1) % int(save_every) == 0 or k + 1 == n_steps:
            thetas.append(theta)
            parts_x.append(X)
            times.append(t)
    ranks = [int(r) for r, _ in diags]
    conds = [float(c) for _, c in diags]
    T = xp.asarray(times, dtype=be.dtype, device=be.device)
    P = xp.stack(parts_x, axis=0) if all(p.shape == parts_x[0].shape for p in parts_x) else parts_x
    return GalerkinResult(
        t=T, theta=xp.stack(thetas, axis=0), particles=P, rank=ranks, cond=conds, fit_error=fit_error,
        n_steps=n_steps, param=param, pde=pde, backend=be,
    )


def demo(png: str | None = None) -> None:
    """KdV two-soliton with 10 periodic Gaussian units (short horizon t = 0.25, a few seconds on numpy):
    prints the relative L2 error vs the exact solution; with ``png`` a path, saves a picture of u(x, t)."""
    from .._backend import get_backend

    be = get_backend("numpy")
    xp = be.xp
    pde = kdv()
    param, theta0 = kdv_guess(be)
    T = 0.25
    res = solve(pde, param, theta0, T, 1e-3, ridge=1e-8, save_every=50, fit_iters=150)
    xg = xp.reshape(xp.linspace(-20.0, 40.0, 2048, endpoint=False, dtype=be.dtype), (-1, 1))
    print(f"Neural Galerkin, KdV two-soliton, {param.m} periodic Gaussian units, RK4 dt = 1e-3, 512 grid points")
    print(f"  initial fit relative residual: {res.fit_error:.2e}")
    for tt in be.to_numpy(res.t).tolist():
        print(f"  t = {tt:4.2f}: relative L2 error vs exact = {relative_l2_error(res, xg, tt):.3e}")
    print(f"  numerical rank of J: min {min(res.rank)}, max {max(res.rank)} of {param.n_params}")
    print("  (the full run to t = 4: benchmarks/galerkin_report.py, transportkit.galerkin.run_kdv)")
    if png is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        xs = be.to_numpy(xg[:, 0])
        for k, tt in enumerate(be.to_numpy(res.t).tolist()):
            ax.plot(xs, be.to_numpy(res.param.value(res.theta[k, :], xg)), label=f"t = {tt:.2f}")
            ax.plot(xs, be.to_numpy(pde.exact(tt, xg, xp)), "k:", lw=0.8)
        ax.set_xlabel("x")
        ax.set_ylabel("u(x, t)")
        ax.legend(fontsize=7)
        ax.set_title("KdV two-soliton: Neural Galerkin (solid) vs exact (dotted)")
        fig.tight_layout()
        fig.savefig(png, dpi=120)
        plt.close(fig)
        print(f"  picture: {png}")


def kdv_guess(be: Any) -> tuple[GaussianUnits, Any]:
    r"""10 periodic Gaussian units (period 60) and a starting guess for the two-soliton initial condition:
    five equal units per soliton :math:`(k^2/2)\,\mathrm{sech}^2(k(x - x_0)/2)`, amplitude :math:`k^2/10`,
    width matching the soliton's curvature at its peak."""
    cs, ws, bs = [], [], []
    for xc, kk in ((0.0, 1.0), (-10.73 / math.sqrt(5.0), math.sqrt(5.0))):
        for j in range(5):
            cs.append(kk**2 / 10.0)
            ws.append(60.0 / math.pi * kk / math.sqrt(2.0))
            bs.append(xc + 0.05 * (j - 2))
    return GaussianUnits(10, 1, periodic=60.0), be.asarray(cs + ws + bs)


def run_kdv(t_final: float = 4.0, dt: float = 1e-3, *, n_grid: int = 512, rcond: float = 1e-10,
            ridge: float = 1e-8, save_every: int = 250, backend: Any = None,
            progress: bool = False) -> tuple[GalerkinResult, list[float]]:
    r"""The KdV two-soliton benchmark: 10 periodic Gaussian units fitted to :math:`u_0` on 2048 grid points
    (Levenberg–Marquardt, 500 iterations), RK4 with step ``dt`` on an ``n_grid``-point periodic grid,
    regularized least squares (``rcond``, ``ridge``); the time step is compiled where the backend has ``jit``.
    Returns the result and the relative L2 errors vs the exact solution (4096-point grid) at the saved times.
    Measured (``benchmarks/galerkin_report.py``): 5.35e-3 at t = 4 on numpy, jax, torch and array_api_strict."""
    from .._backend import get_backend

    be = get_backend(backend)
    xp = be.xp
    pde = kdv()
    param, theta0 = kdv_guess(be)
    xf = xp.reshape(xp.linspace(-20.0, 40.0, 2048, endpoint=False, dtype=be.dtype, device=be.device), (-1, 1))
    res = solve(pde, param, theta0, t_final, dt, sampler=GridSampler(-20.0, 40.0, n_grid), fit_points=xf,
                fit_iters=500, rcond=rcond, ridge=ridge, save_every=save_every, backend=be, progress=progress)
    xg = xp.reshape(xp.linspace(-20.0, 40.0, 4096, endpoint=False, dtype=be.dtype, device=be.device), (-1, 1))
    errs = [relative_l2_error(res, xg, tt) for tt in be.to_numpy(res.t).tolist()]
    return res, errs
