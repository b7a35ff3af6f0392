r"""Fixed-step and adaptive ODE/SDE integrators, one stepping loop for every backend.

ODE :math:`\dot x = f(t, x)`: ``"euler"``, ``"heun"`` (explicit trapezoid), ``"midpoint"``, ``"rk4"`` on a time grid
(:func:`time_grid`), and ``"dopri5"`` (adaptive Dormand–Prince 5(4) with ``rtol``/``atol``).
SDE :math:`dX = f(t, X)\,dt + \sqrt{2\varepsilon(t)}\,dW` (the library's one SDE convention):

- ``"euler_maruyama"``: :math:`x' = x + f(t,x)\Delta t + \sqrt{2\varepsilon(t)|\Delta t|}\,\xi`;
- ``"heun"`` (stochastic Heun for additive noise): :math:`\tilde x = x + f(t,x)\Delta t + \sigma\Delta W`,
  :math:`x' = x + \tfrac12[f(t,x) + f(t+\Delta t,\tilde x)]\Delta t + \sigma\Delta W` with
  :math:`\sigma = \sqrt{2\varepsilon(t+\Delta t/2)}`.

A decreasing grid integrates backward in time (:math:`\Delta t < 0`; the noise uses :math:`|\Delta t|`), which is
how likelihoods and encodings run from :math:`t = 1` to :math:`0`. Every step is a tableau of
:mod:`transportkit.runge_kutta`; a whole run is one loop of :mod:`transportkit._loops` — on JAX one compiled
program (the grid is an argument, so one compilation serves every grid of the same length), cached on the backend
per ``(f, solver)``; elsewhere a Python loop.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import array_api_extra as xpx

from ._backend import Backend, resolve_backend
from ._capabilities import declare
from ._loops import progress_bar, run_steps, scan_steps
from .random import default_rng
from .runge_kutta import error_norm, get_tableau, next_step_factor, rk_step, rk_step_error

__all__ = ["ODE_SOLVERS", "SDE_SOLVERS", "diffusion_function", "grid_times", "odeint", "sdeint", "time_grid"]

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


def grid_times(grid: Any, steps: int | None, t_span: tuple[float, float] | None, be: Backend) -> list[float]:
    """The time grid of a run as Python floats (validated: at least two finite, strictly monotone times) from an
    explicit ``grid`` or from ``steps`` over ``t_span`` (default (0, 1))."""
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
    if any(not math.isfinite(v) for v in ts):
        raise ValueError("the time grid contains NaN or inf")
    d = [b - a for a, b in itertools.pairwise(ts)]
    if not (all(v > 0 for v in d) or all(v < 0 for v in d)):
        raise ValueError("the time grid must be strictly increasing or strictly decreasing")
    return ts


def diffusion_function(diffusion: Any) -> Callable[[Any], Any]:
    r"""The one check of a diffusion coefficient: :math:`\varepsilon` given as a non-negative finite number or as a
    callable of the (0-d array) time; returns ``eps(t)`` (a float for constants, whatever the callable returns
    otherwise). ``ValueError`` for anything else."""
    if callable(diffusion):
        return diffusion
    if isinstance(diffusion, (int, float)) and not isinstance(diffusion, bool):
        if math.isfinite(diffusion) and diffusion >= 0:
            v = float(diffusion)
            return lambda t: v
    raise ValueError(f"diffusion must be a non-negative number or a callable eps(t), got {diffusion!r}")


def _key(*parts: Any) -> Any:
    """A compile-cache key, or ``None`` where a part is unhashable (then the run compiles without caching)."""
    try:
        hash(parts)
    except TypeError:
        return None
    return parts


# --------------------------------------------------------------------------------------------- ODE
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

    ``f(t, x)`` receives ``t`` as a 0-d array of the backend. Fixed-step solvers (:mod:`transportkit.runge_kutta`
    tableaus) use ``grid`` or ``steps`` over ``t_span``; ``"dopri5"`` (Dormand & Prince 1980) adapts its steps
    between ``t_span`` (or the grid's ends) with the error norm
    :math:`\max_i |e_i|/(\mathrm{atol} + \mathrm{rtol}\max(|x_i|, |x'_i|))` over all entries, and with
    ``return_path`` returns the states at the grid times (it steps exactly onto them). On JAX the whole run is one
    compiled loop, cached per ``(f, solver)`` so that repeated calls with the same ``f`` compile once.
    """
    if solver not in ODE_SOLVERS:
        raise ValueError(f"unknown ODE solver {solver!r}; use one of {ODE_SOLVERS}")
    if solver == "dopri5" and not (rtol > 0 and atol >= 0 and int(max_steps) >= 1):
        raise ValueError(f"dopri5 needs rtol > 0, atol >= 0, max_steps >= 1; got {rtol}, {atol}, {max_steps}")
    be = resolve_backend(x0, backend=backend)
    x = be.asarray(x0)
    if solver == "dopri5":
        if grid is not None or return_path:
            ts = grid_times(grid, steps if steps is not None else 1, t_span, be)
        else:
            ts = grid_times(None, 1, t_span, be)
        return _dopri5(f, x, ts, float(rtol), float(atol), int(max_steps), return_path, progress, be)
    ts = grid_times(grid, steps, t_span, be)
    tab = get_tableau(solver)
    xp = be.xp
    times = xp.asarray(ts, dtype=be.dtype, device=be.device)

    def body(i: Any, x: Any, times: Any) -> Any:
        t = times[i]
        return rk_step(tab, f, t, times[i + 1] - t, x)

    key = _key("odeint", f, solver)
    if not return_path:
        return run_steps(be, body, x, len(ts) - 1, consts=times, key=key, progress=progress, desc=f"ODE {solver}")

    def body_path(i: Any, x: Any, times: Any) -> tuple[Any, Any]:
        y = body(i, x, times)
        return y, y

    _, path = scan_steps(be, body_path, x, len(ts) - 1, consts=times, key=key, progress=progress, desc=f"ODE {solver}")
    return xp.concat([x[None, ...], path], axis=0)


def _dopri5(f, x, ts, rtol, atol, max_steps, return_path, progress, be):
    r"""Adaptive Dormand–Prince 5(4) (FSAL) as one ``while_loop`` (compiled on JAX) that steps exactly onto the
    grid times; standard step control :math:`h \leftarrow h\,\mathrm{clip}(0.9\,\mathrm{err}^{-1/5}, 0.2, 5)`
    (Hairer, Nørsett & Wanner 1993, §II.4)."""
    xp = be.xp
    m = len(ts)
    tab = get_tableau("dopri5")
    h0 = (1.0 if ts[-1] > ts[0] else -1.0) * min(abs(ts[-1] - ts[0]), 0.01)
    bar = progress_bar(m - 1, progress, "ODE dopri5")

    def run(x: Any, times: Any) -> tuple[Any, Any, Any]:
        t0 = times[0]
        path = xp.zeros((m, *x.shape), dtype=x.dtype, device=be.device) if return_path else None
        if path is not None:
            path = xpx.at(path, (0, ...)).set(x)
        one = xp.asarray(1, device=be.device)
        carry = (t0, x, f(t0, x), xp.asarray(h0, dtype=x.dtype, device=be.device), one, 0 * one, path)

        def cond(c: tuple) -> Any:
            return (c[4] < m) & (c[5] < max_steps)

        def body(c: tuple) -> tuple:
            t, x, k1, h, j, n_steps, path = c
            target = times[j]
            rem = target - t
            clip = xp.abs(h) >= xp.abs(rem)
            hh = xp.where(clip, rem, h)
            x5, err, k_last = rk_step_error(tab, f, t, hh, x, k1)
            e = error_norm(err, x, x5, rtol, atol, xp)
            acc = e <= 1.0
            reached = acc & clip
            t = xp.where(acc, xp.where(clip, target, t + hh), t)
            x = xp.where(acc, x5, x)
            k1 = xp.where(acc, k_last, k1)
            if path is not None:  # a traced index under compilation; a Python int for eager namespaces
                jj = j if be.compiles_loops else int(j)
                path = xpx.at(path, (jj, ...)).set(xp.where(reached, x, path[jj, ...]))
            j = j + xp.astype(reached, j.dtype)
            return t, x, k1, hh * next_step_factor(e, 5, xp), j, n_steps + 1, path

        out = be.while_loop(cond, body, carry)
        return out[1], out[4], out[6]

    runner = be.compiled(_key("dopri5", f, rtol, atol, max_steps, return_path, m), lambda: run)
    try:
        x, j, path = runner(x, xp.asarray(ts, dtype=be.dtype, device=be.device))
        reached = int(j)
        bar.update(reached - 1)
    finally:
        bar.close()
    if reached < m:
        raise RuntimeError(f"dopri5 exceeded max_steps={max_steps} before t={ts[reached]}")
    return path if return_path else x


# --------------------------------------------------------------------------------------------- SDE
def _sde_step(f: Callable, eps: Callable, solver: str, xp: Any) -> Callable:
    if solver == "euler_maruyama":

        def step(t, h, x, xi):
            return x + h * f(t, x) + xp.sqrt(2.0 * eps(t) * xp.abs(h)) * xi

    else:  # stochastic Heun for additive noise

        def step(t, h, x, xi):
            dw = xp.sqrt(2.0 * eps(t + 0.5 * h) * xp.abs(h)) * xi
            k1 = f(t, x)
            xt = x + h * k1 + dw
            return x + (0.5 * h) * (k1 + f(t + h, xt)) + dw

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
    time array. ``seed``: int, ``None`` or a :class:`transportkit.random.Generator`. On JAX the whole run is one
    compiled loop whose noise comes from keys folded per step (:meth:`transportkit.random.Generator.at`); with a
    host stream (``rng_on_host``) the loop runs in Python."""
    if solver not in SDE_SOLVERS:
        raise ValueError(f"unknown SDE solver {solver!r}; use one of {SDE_SOLVERS}")
    eps_fn = diffusion_function(diffusion)
    be = resolve_backend(x0, backend=backend)
    x = be.asarray(x0)
    xp = be.xp
    ts = grid_times(grid, steps, t_span, be)
    gen = default_rng(seed, be)
    if callable(diffusion):
        eps = eps_fn
    else:
        cst = eps_fn(None)

        def eps(t: Any) -> Any:
            return xp.asarray(cst, dtype=be.dtype, device=be.device)

    step = _sde_step(f, eps, solver, xp)
    times = xp.asarray(ts, dtype=be.dtype, device=be.device)
    key = gen.loop_key()

    def body(i: Any, x: Any, consts: tuple) -> Any:
        times, k = consts
        t = times[i]
        return step(t, times[i + 1] - t, x, gen.at(k, i).normal(x.shape))

    ckey = _key("sdeint", f, diffusion, solver, gen)
    opts = {"consts": (times, key), "key": ckey, "progress": progress, "desc": f"SDE {solver}"}
    opts["compile"] = gen.functional
    if not return_path:
        return run_steps(be, body, x, len(ts) - 1, **opts)

    def body_path(i: Any, x: Any, consts: tuple) -> tuple[Any, Any]:
        y = body(i, x, consts)
        return y, y

    _, path = scan_steps(be, body_path, x, len(ts) - 1, **opts)
    return xp.concat([x[None, ...], path], axis=0)
