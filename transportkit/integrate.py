r"""Fixed-step and adaptive ODE/SDE integrators, one stepping loop for every backend.

ODE :math:`\dot x = f(t, x)`: ``"euler"``, ``"heun"`` (explicit trapezoid), ``"midpoint"``, ``"rk4"`` on a time grid
(:func:`time_grid`), and ``"dopri5"`` (adaptive Dormand–Prince 5(4) with ``rtol``/``atol``).
SDE :math:`dX = f(t, X)\,dt + \sqrt{2\varepsilon(t)}\,dW` (``ALGORITHMS.md`` §0 convention):

- ``"euler_maruyama"``: :math:`x' = x + f(t,x)\Delta t + \sqrt{2\varepsilon(t)|\Delta t|}\,\xi`;
- ``"heun"`` (stochastic Heun for additive noise): :math:`\tilde x = x + f(t,x)\Delta t + \sigma\Delta W`,
  :math:`x' = x + \tfrac12[f(t,x) + f(t+\Delta t,\tilde x)]\Delta t + \sigma\Delta W` with
  :math:`\sigma = \sqrt{2\varepsilon(t+\Delta t/2)}`.

A decreasing grid integrates backward in time (:math:`\Delta t < 0`; the noise uses :math:`|\Delta t|`), which is
how likelihoods and encodings run from :math:`t = 1` to :math:`0`. On JAX the step function is compiled with
``jit`` (the grid time is an argument, so one compilation serves all steps).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from ._backend import Backend, resolve_backend
from ._capabilities import declare
from .random import default_rng

__all__ = ["ODE_SOLVERS", "SDE_SOLVERS", "odeint", "sdeint", "time_grid"]

ODE_SOLVERS = ("euler", "heun", "midpoint", "rk4", "dopri5")
SDE_SOLVERS = ("euler_maruyama", "heun")


def time_grid(
    steps: int, t0: float = 0.0, t1: float = 1.0, *, kind: str = "uniform", power: float = 2.0, backend: Any = None
) -> Any:
    r"""A grid of ``steps + 1`` times from ``t0`` to ``t1`` (decreasing when ``t1 < t0``).

    ``kind``: ``"uniform"``; ``"ends"`` (denser near both ends, :math:`u \mapsto (1-\cos\pi u)/2`); ``"start"`` /
    ``"end"`` (denser near ``t0`` / ``t1``: :math:`u^p` / :math:`1-(1-u)^p` with ``power`` p). The grid's
    end points are exactly ``t0`` and ``t1``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (math.isfinite(t0) and math.isfinite(t1)) or t0 == t1:
        raise ValueError(f"need finite t0 != t1, got t0={t0}, t1={t1}")
    be = resolve_backend(backend=backend)
    xp = be.xp
    u = xp.arange(steps + 1, dtype=be.dtype, device=be.device) / steps
    if kind == "uniform":
        pass
    elif kind == "ends":
        u = 0.5 * (1.0 - xp.cos(math.pi * u))
    elif kind == "start":
        u = u**power
    elif kind == "end":
        u = 1.0 - (1.0 - u) ** power
    else:
        raise ValueError(f"unknown grid kind {kind!r}; use 'uniform', 'ends', 'start' or 'end'")
    grid = t0 + (t1 - t0) * u
    import array_api_extra as xpx

    grid = xpx.at(grid, 0).set(t0)
    return xpx.at(grid, steps).set(t1)


def _grid_list(grid: Any, steps: int | None, t_span: tuple[float, float] | None, be: Backend) -> list[float]:
    if grid is not None:
        g = be.to_numpy(be.asarray(grid)) if hasattr(grid, "shape") else grid
        ts = [float(v) for v in g]
    else:
        t0, t1 = (0.0, 1.0) if t_span is None else (float(t_span[0]), float(t_span[1]))
        if steps is None:
            raise ValueError("give steps= (with t_span) or an explicit grid=")
        ts = [float(v) for v in be.to_numpy(time_grid(steps, t0, t1, backend="numpy"))]
    if len(ts) < 2:
        raise ValueError("a time grid needs at least two times")
    d = [b - a for a, b in itertools.pairwise(ts)]
    if not (all(v > 0 for v in d) or all(v < 0 for v in d)):
        raise ValueError("the time grid must be strictly increasing or strictly decreasing")
    if any(not math.isfinite(v) for v in ts):
        raise ValueError("the time grid contains NaN or inf")
    return ts


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # optional dependency: silently no bar
        return None
    return tqdm(total=total, desc=desc, leave=False)


# --------------------------------------------------------------------------------------------- ODE steps
def _ode_step(f: Callable, solver: str) -> Callable:
    if solver == "euler":

        def step(t, h, x):
            return x + h * f(t, x)

    elif solver == "heun":

        def step(t, h, x):
            k1 = f(t, x)
            k2 = f(t + h, x + h * k1)
            return x + (0.5 * h) * (k1 + k2)

    elif solver == "midpoint":

        def step(t, h, x):
            k1 = f(t, x)
            return x + h * f(t + 0.5 * h, x + (0.5 * h) * k1)

    elif solver == "rk4":

        def step(t, h, x):
            hh = 0.5 * h
            k1 = f(t, x)
            k2 = f(t + hh, x + hh * k1)
            k3 = f(t + hh, x + hh * k2)
            k4 = f(t + h, x + h * k3)
            return x + (h / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)

    else:
        raise ValueError(f"unknown ODE solver {solver!r}; use one of {ODE_SOLVERS}")
    return step


@declare(uses=("jit",))
def odeint(
    f: Callable[[Any, Any], Any],
    x0: Any,
    *,
    steps: int | None = None,
    t_span: tuple[float, float] = (0.0, 1.0),
    grid: Any = None,
    solver: str = "rk4",
    rtol: float = 1e-6,
    atol: float = 1e-9,
    max_steps: int = 100_000,
    return_path: bool = False,
    progress: bool = False,
    backend: Any = None,
) -> Any:
    r"""Solve :math:`\dot x = f(t, x)` from ``x0`` along a time grid; returns :math:`x(t_{\rm end})`, or with
    ``return_path`` the states at every grid time, shape ``(len(grid), *x0.shape)``.

    ``f(t, x)`` receives ``t`` as a 0-d array of the backend. Fixed-step solvers use ``grid`` or ``steps`` over
    ``t_span``; ``"dopri5"`` adapts its steps between ``t_span`` (or the grid's ends) with the error norm
    :math:`\max_i |e_i|/(\mathrm{atol} + \mathrm{rtol}\,|x_i|)` over all entries, and with ``return_path``
    returns the states at the grid times (dense output by stepping exactly onto them).
    """
    be = resolve_backend(x0, backend=backend)
    x = be.asarray(x0)
    if solver == "dopri5":
        ts = (
            _grid_list(grid, steps if steps is not None else 1, t_span, be)
            if (grid is not None or return_path)
            else [
                float(t_span[0]),
                float(t_span[1]),
            ]
        )
        return _dopri5(f, x, ts, rtol, atol, max_steps, return_path, progress, be)
    ts = _grid_list(grid, steps, t_span, be)
    step = _compiled(be, f, solver, lambda: _ode_step(f, solver))
    return _loop(step, x, ts, return_path, progress, be, None, f"ODE {solver}")


#: compiled step functions, keyed by (backend, field function, solver): reusing a bound field's method across calls
#: (e.g. repeated ``sample`` calls) reuses one compilation. Small, first-in-first-out.
_JIT_CACHE: dict[tuple, Callable] = {}
_JIT_CACHE_SIZE = 32


def _compiled(be: Backend, f: Callable, solver: str, make: Callable[[], Callable]) -> Callable:
    if be.jit is None:
        return make()
    try:
        key = (be.name, str(be.device), str(be.dtype), f, solver)
        hash(key)
    except TypeError:
        return be.maybe_jit(make())
    step = _JIT_CACHE.get(key)
    if step is None:
        if len(_JIT_CACHE) >= _JIT_CACHE_SIZE:
            _JIT_CACHE.pop(next(iter(_JIT_CACHE)))
        step = _JIT_CACHE[key] = be.maybe_jit(make())
    return step


def _loop(step: Callable, x: Any, ts: list[float], return_path: bool, progress: bool, be: Backend, noise, desc):
    xp = be.xp
    path = [x] if return_path else None
    bar = _progress(len(ts) - 1, progress, desc)
    for i in range(len(ts) - 1):
        t = xp.asarray(ts[i], dtype=be.dtype, device=be.device)
        h = xp.asarray(ts[i + 1] - ts[i], dtype=be.dtype, device=be.device)
        x = step(t, h, x) if noise is None else step(t, h, x, noise(x.shape))
        if path is not None:
            path.append(x)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return xp.stack(path, axis=0) if path is not None else x


# Dormand–Prince 5(4) tableau
_A = [
    [],
    [1 / 5],
    [3 / 40, 9 / 40],
    [44 / 45, -56 / 15, 32 / 9],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
]
_C = [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
_B5 = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_B4 = [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40]
_E = [b5 - b4 for b5, b4 in zip(_B5, _B4, strict=True)]


def _dopri5(f, x, ts, rtol, atol, max_steps, return_path, progress, be):
    xp = be.xp
    sign = 1.0 if ts[-1] > ts[0] else -1.0

    def attempt(t, h, x, k1):
        tt = lambda c: xp.asarray(t + c * h, dtype=be.dtype, device=be.device)  # noqa: E731
        ks = [k1]
        for i in range(1, 7):
            xi = x
            for j, a in enumerate(_A[i]):
                if a != 0.0:
                    xi = xi + (h * a) * ks[j]
            ks.append(f(tt(_C[i]), xi))
        x5 = x
        err = xp.zeros_like(x)
        for j in range(7):
            if _B5[j] != 0.0:
                x5 = x5 + (h * _B5[j]) * ks[j]
            err = err + (h * _E[j]) * ks[j]
        scale = atol + rtol * xp.maximum(xp.abs(x), xp.abs(x5))
        return x5, float(xp.max(xp.abs(err) / scale)), ks[6]

    path = [x] if return_path else None
    t = ts[0]
    k1 = f(xp.asarray(t, dtype=be.dtype, device=be.device), x)
    h = sign * min(abs(ts[-1] - ts[0]), 0.01)
    n_steps = 0
    bar = _progress(len(ts) - 1, progress, "ODE dopri5")
    for target in ts[1:]:
        while sign * (target - t) > 1e-14 * max(1.0, abs(target)):
            if n_steps >= max_steps:
                raise RuntimeError(f"dopri5 exceeded max_steps={max_steps} at t={t}")
            hh = sign * min(abs(h), abs(target - t))
            x_new, err, k_last = attempt(t, hh, x, k1)
            n_steps += 1
            if err <= 1.0:
                t = t + hh
                x, k1 = x_new, k_last  # FSAL
            fac = 0.9 * (1.0 / err) ** 0.2 if err > 0 and math.isfinite(err) else (5.0 if err == 0 else 0.2)
            h = hh * min(5.0, max(0.2, fac))
        if path is not None:
            path.append(x)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return xp.stack(path, axis=0) if path is not None else x


# --------------------------------------------------------------------------------------------- SDE steps
def _sde_step(f: Callable, eps: Callable, solver: str, xp: Any) -> Callable:
    if solver == "euler_maruyama":

        def step(t, h, x, xi):
            return x + h * f(t, x) + xp.sqrt(2.0 * eps(t) * xp.abs(h)) * xi

    elif solver == "heun":

        def step(t, h, x, xi):
            dw = xp.sqrt(2.0 * eps(t + 0.5 * h) * xp.abs(h)) * xi
            k1 = f(t, x)
            xt = x + h * k1 + dw
            return x + (0.5 * h) * (k1 + f(t + h, xt)) + dw

    else:
        raise ValueError(f"unknown SDE solver {solver!r}; use one of {SDE_SOLVERS}")
    return step


@declare(uses=("jit",))
def sdeint(
    f: Callable[[Any, Any], Any],
    x0: Any,
    diffusion: Any = 1.0,
    *,
    steps: int | None = None,
    t_span: tuple[float, float] = (0.0, 1.0),
    grid: Any = None,
    solver: str = "euler_maruyama",
    seed: Any = None,
    return_path: bool = False,
    progress: bool = False,
    backend: Any = None,
) -> Any:
    r"""Solve :math:`dX = f(t, X)\,dt + \sqrt{2\varepsilon(t)}\,dW` from ``x0`` along a time grid (backward when
    the grid decreases). ``diffusion`` is :math:`\varepsilon`: a non-negative number or a callable of the 0-d
    time array. ``seed``: int, ``None`` or a :class:`transportkit.random.Generator`."""
    be = resolve_backend(x0, backend=backend)
    x = be.asarray(x0)
    xp = be.xp
    if callable(diffusion):
        eps = diffusion
    elif isinstance(diffusion, (int, float)) and math.isfinite(diffusion) and diffusion >= 0:
        cst = float(diffusion)

        def eps(t):
            return xp.asarray(cst, dtype=be.dtype, device=be.device)

    else:
        raise ValueError(f"diffusion must be a non-negative number or a callable eps(t), got {diffusion!r}")
    base = _sde_step(f, eps, solver, xp)
    ts = _grid_list(grid, steps, t_span, be)
    gen = default_rng(seed, be)
    step = be.maybe_jit(base)
    return _loop(step, x, ts, return_path, progress, be, gen.normal, f"SDE {solver}")
