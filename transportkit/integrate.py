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
from ._typing import Array
from ._validation import as_bool, as_choice, as_count, as_points, as_real, check_callable, check_returned_shape
from .errors import NonFiniteWarning
from .random import SEED_DEPRECATED, resolve_rng
from .runge_kutta import error_norm, get_tableau, next_step_factor, rk_step, rk_step_error

__all__ = ["ODE_SOLVERS", "SDE_SOLVERS", "diffusion_function", "grid_times", "odeint", "sdeint", "time_grid"]

ODE_SOLVERS = ("euler", "heun", "midpoint", "rk4", "dopri5")
SDE_SOLVERS = ("euler_maruyama", "heun")
GRID_KINDS = ("uniform", "ends", "start", "end")
#: the most steps of a fixed grid (a larger grid would not fit in memory on most machines)
MAX_GRID_STEPS = 100_000_000
#: consecutive rejected dopri5 steps with a NaN/inf error estimate after which the run stops with an error
MAX_NONFINITE_REJECTS = 40


def time_grid(
    steps: int, t0: float = 0.0, t1: float = 1.0, *, kind: str = "uniform", power: float = 2.0, backend: Any = None
) -> Array:
    r"""A grid of ``steps + 1`` times from ``t0`` to ``t1`` (decreasing when ``t1 < t0``).

    ``kind``: ``"uniform"``; ``"ends"`` (denser near both ends, :math:`u \mapsto (1-\cos\pi u)/2`); ``"start"`` /
    ``"end"`` (denser near ``t0`` / ``t1``: :math:`u^p` / :math:`1-(1-u)^p` with ``power`` p). The grid's
    end points are exactly ``t0`` and ``t1``. ``power`` must be positive (a non-positive power gives a grid that
    is not monotone); ``steps`` is an integer in ``[1, 10**8]``.
    """
    steps = as_count("steps", steps, high=MAX_GRID_STEPS)
    t0, t1 = as_real("t0", t0), as_real("t1", t1)
    if t0 == t1:
        raise ValueError(f"t0 and t1 must differ, got t0 = t1 = {t0}")
    kind = as_choice("kind", kind, GRID_KINDS)
    power = as_real("power", power, low=0.0, low_open=True)
    be = resolve_backend(backend=backend)
    xp = be.xp
    u = xp.arange(steps + 1, dtype=be.dtype, device=be.device) / steps
    if kind == "uniform":
        pass
    elif kind == "ends":
        u = 0.5 * (1.0 - xp.cos(math.pi * u))
    elif kind == "start":
        u = u**power
    else:  # "end"
        u = 1.0 - (1.0 - u) ** power
    grid = t0 + (t1 - t0) * u
    grid = xpx.at(grid, 0).set(t0)
    return xpx.at(grid, steps).set(t1)


def grid_times(grid: Any, steps: int | None, t_span: tuple[float, float] | None, be: Backend) -> list[float]:
    """The time grid of a run as Python floats (validated: at least two finite, strictly monotone times) from an
    explicit ``grid`` or from ``steps`` over ``t_span`` (default (0, 1))."""
    if grid is not None:
        g = as_points("grid", grid, be, ndim=1, finite=False)
        ts = [float(v) for v in be.to_numpy(g).tolist()]
    else:
        t0, t1 = _span(t_span)
        if steps is None:
            raise ValueError("give steps= (with t_span) or an explicit grid=")
        ts = [float(v) for v in be.to_numpy(time_grid(steps, t0, t1, backend="numpy")).tolist()]
    if len(ts) < 2:
        raise ValueError(f"grid must hold at least two times, got {len(ts)}")
    if len(ts) - 1 > MAX_GRID_STEPS:
        raise ValueError(f"grid has {len(ts) - 1} steps; at most {MAX_GRID_STEPS} are allowed")
    if any(not math.isfinite(v) for v in ts):
        raise ValueError("grid contains NaN or inf")
    d = [b - a for a, b in itertools.pairwise(ts)]
    if not (all(v > 0 for v in d) or all(v < 0 for v in d)):
        raise ValueError("grid must be strictly increasing or strictly decreasing")
    return ts


def _span(t_span: Any) -> tuple[float, float]:
    """``t_span`` as two finite, distinct floats."""
    if t_span is None:
        return 0.0, 1.0
    try:
        a, b = t_span
    except (TypeError, ValueError):
        raise TypeError(f"t_span must be a pair (t0, t1), got {t_span!r}") from None
    t0, t1 = as_real("t_span[0]", a), as_real("t_span[1]", b)
    if t0 == t1:
        raise ValueError(f"t_span must have t0 != t1, got {t_span!r}")
    return t0, t1


def _initial_state(x0: Any, backend: Any) -> tuple[Backend, Any]:
    """The backend and ``x0`` as a real floating, finite, non-empty array of it (any rank)."""
    be = resolve_backend(x0, backend=backend)
    return be, as_points("x0", x0, be, ndim=tuple(range(0, 9)))


def _checked_field(f: Any, name: str = "f") -> Callable[[Any, Any], Any]:
    """``f`` wrapped so that every call checks (statically: shapes are known while tracing, so a compiled run pays
    nothing) that it returns an array of the state's shape — an ``(n, 1)`` answer for an ``(n, d)`` state is a
    ``ValueError`` naming ``f`` at its first evaluation, before any step is taken, not a silent broadcast."""
    check_callable(name, f)

    def checked(t: Any, y: Any) -> Any:  # y has the state's shape (compiled programs are reused across shapes)
        out = f(t, y)
        return check_returned_shape(name, out, tuple(y.shape), "at (t0, x0)")

    return checked


def _warn_nonfinite(out: Any, be: Backend, what: str) -> Any:
    """``out``, with a :class:`~transportkit.errors.NonFiniteWarning` when it holds NaN or inf (one host sync)."""
    xp = be.xp
    x = out if not isinstance(out, tuple) else out[0]
    if not bool(xp.all(xp.isfinite(x))):
        import warnings

        warnings.warn(f"{what} returned NaN or inf values (the field or the diffusion is non-finite somewhere, or "
                      "the steps are too large for stability); reduce the step or check the field",
                      NonFiniteWarning, stacklevel=3)
    return out


def diffusion_function(diffusion: Any) -> Callable[[Any], Any]:
    r"""The one check of a diffusion coefficient: :math:`\varepsilon` given as a non-negative finite number or as a
    callable of the (0-d array) time; returns ``eps(t)`` (a float for constants, whatever the callable returns
    otherwise). Python and NumPy numbers are accepted; a negative, NaN or infinite constant is a ``ValueError``,
    anything else that is not callable a ``TypeError``."""
    if callable(diffusion):
        return diffusion
    v = as_real("diffusion", diffusion, low=0.0)
    return lambda t: v


def _check_diffusion(eps: Callable, ts: list[float], solver: str, be: Backend) -> None:
    r"""Evaluate a callable :math:`\varepsilon(t)` at the times the run will use (at most 1000 of them, evenly
    spread): each value must be a finite, non-negative real scalar, else a ``ValueError`` naming the time."""
    n = len(ts) - 1
    idx = range(n) if n <= 1000 else sorted({round(k * (n - 1) / 999) for k in range(1000)})
    for i in idx:
        t = ts[i] + (0.5 * (ts[i + 1] - ts[i]) if solver == "heun" else 0.0)
        v = eps(be.xp.asarray(t, dtype=be.dtype, device=be.device))
        if getattr(v, "ndim", 0) != 0:
            raise ValueError(f"diffusion(t) must return a scalar, got shape {tuple(v.shape)} at t = {t:.6g}")
        val = float(v)
        if not (math.isfinite(val) and val >= 0):
            raise ValueError(f"diffusion(t) must be finite and non-negative; got {val} at t = {t:.6g}")


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
) -> Array:
    r"""Solve :math:`\dot x = f(t, x)` from ``x0`` along a time grid; returns :math:`x(t_{\rm end})`, or with
    ``return_path`` the states at every grid time, shape ``(len(grid), *x0.shape)``.

    ``f(t, x)`` receives ``t`` as a 0-d array of the backend. Fixed-step solvers (:mod:`transportkit.runge_kutta`
    tableaus) use ``grid`` or ``steps`` over ``t_span``; ``"dopri5"`` (Dormand & Prince 1980) adapts its steps
    between ``t_span`` (or the grid's ends) with the error norm
    :math:`\max_i |e_i|/(\mathrm{atol} + \mathrm{rtol}\max(|x_i|, |x'_i|))` over all entries, and with
    ``return_path`` returns the states at the grid times (it steps exactly onto them). On JAX the whole run is one
    compiled loop, cached per ``(f, solver)`` so that repeated calls with the same ``f`` compile once.

    Checks (before any step): ``x0`` a finite real floating array; ``f`` must return ``x0``'s shape, checked at
    its first evaluation (statically: free under compilation; an ``(n, 1)`` answer for an ``(n, d)`` state is a
    ``ValueError``, not a broadcast); ``steps``
    an integer in ``[1, 10**8]`` (NumPy integers accepted); a strictly monotone finite grid. A fixed-step result
    holding NaN/inf comes with a :class:`~transportkit.errors.NonFiniteWarning`. ``dopri5`` stops with a
    ``FloatingPointError`` when its error estimate stays NaN/inf over 40 successive step reductions (a field that
    returns NaN), and with a ``RuntimeError`` after ``max_steps`` attempted steps.
    """
    solver = as_choice("solver", solver, ODE_SOLVERS)
    return_path, progress = as_bool("return_path", return_path), as_bool("progress", progress)
    if steps is not None:
        steps = as_count("steps", steps, high=MAX_GRID_STEPS)
    be, x = _initial_state(x0, backend)
    if solver == "dopri5":
        rtol = as_real("rtol", rtol, low=0.0, low_open=True)
        atol = as_real("atol", atol, low=0.0)
        max_steps = as_count("max_steps", max_steps)
        if grid is not None or return_path:
            ts = grid_times(grid, steps if steps is not None else 1, t_span, be)
        else:
            ts = grid_times(None, 1, t_span, be)
        check_callable("f", f)
        return _dopri5(f, x, ts, rtol, atol, max_steps, return_path, progress, be)
    ts = grid_times(grid, steps, t_span, be)
    fc = _checked_field(f)
    tab = get_tableau(solver)
    xp = be.xp
    times = xp.asarray(ts, dtype=be.dtype, device=be.device)

    def body(i: Any, x: Any, times: Any) -> Any:
        t = times[i]
        return rk_step(tab, fc, t, times[i + 1] - t, x)

    key = _key("odeint", f, solver)
    if not return_path:
        out = run_steps(be, body, x, len(ts) - 1, consts=times, key=key, progress=progress, desc=f"ODE {solver}")
        return _warn_nonfinite(out, be, f"odeint(solver={solver!r})")

    def body_path(i: Any, x: Any, times: Any) -> tuple[Any, Any]:
        y = body(i, x, times)
        return y, y

    last, path = scan_steps(be, body_path, x, len(ts) - 1, consts=times, key=key, progress=progress,
                            desc=f"ODE {solver}")
    _warn_nonfinite(last, be, f"odeint(solver={solver!r})")
    return xp.concat([x[None, ...], path], axis=0)


def _dopri5(f, x, ts, rtol, atol, max_steps, return_path, progress, be):
    r"""Adaptive Dormand–Prince 5(4) (FSAL) as one ``while_loop`` (compiled on JAX) that steps exactly onto the
    grid times; standard step control :math:`h \leftarrow h\,\mathrm{clip}(0.9\,\mathrm{err}^{-1/5}, 0.2, 5)`
    (Hairer, Nørsett & Wanner 1993, §II.4)."""
    xp = be.xp
    m = len(ts)
    tab = get_tableau("dopri5")
    key_f, f = f, _checked_field(f)
    h0 = (1.0 if ts[-1] > ts[0] else -1.0) * min(abs(ts[-1] - ts[0]), 0.01)
    bar = progress_bar(m - 1, progress, "ODE dopri5")

    def run(x: Any, times: Any) -> tuple[Any, Any, Any]:
        t0 = times[0]
        path = xp.zeros((m, *x.shape), dtype=x.dtype, device=be.device) if return_path else None
        if path is not None:
            path = xpx.at(path, (0, ...)).set(x)
        one = xp.asarray(1, device=be.device)
        carry = (t0, x, f(t0, x), xp.asarray(h0, dtype=x.dtype, device=be.device), one, 0 * one, path, 0 * one,
                 one < 0)

        def cond(c: tuple) -> Any:
            return (c[4] < m) & (c[5] < max_steps) & (c[7] < MAX_NONFINITE_REJECTS) & ~c[8]

        def body(c: tuple) -> tuple:
            t, x, k1, h, j, n_steps, path, bad, _ = c
            target = times[j]
            rem = target - t
            clip = xp.abs(h) >= xp.abs(rem)
            hh = xp.where(clip, rem, h)
            stuck = (t + hh) == t  # the step underflowed: no progress is possible
            x5, err, k_last = rk_step_error(tab, f, t, hh, x, k1)
            e = error_norm(err, x, x5, rtol, atol, xp)
            acc = (e <= 1.0) & ~stuck
            bad = xp.where(acc, 0 * bad, xp.where(xp.isfinite(e), bad, bad + 1))  # NaN/inf rejections since last accept
            reached = acc & clip
            t = xp.where(acc, xp.where(clip, target, t + hh), t)
            x = xp.where(acc, x5, x)
            k1 = xp.where(acc, k_last, k1)
            if path is not None:  # a traced index under compilation; a Python int for eager namespaces
                jj = j if be.compiles_loops else int(j)
                path = xpx.at(path, (jj, ...)).set(xp.where(reached, x, path[jj, ...]))
            j = j + xp.astype(reached, j.dtype)
            return t, x, k1, hh * next_step_factor(e, 5, xp), j, n_steps + 1, path, bad, stuck

        out = be.while_loop(cond, body, carry)
        return out[1], out[4], out[6], out[0], out[7], out[8]

    runner = be.compiled(_key("dopri5", key_f, rtol, atol, max_steps, return_path, m), lambda: run)
    try:
        x, j, path, t_end, bad, stuck = runner(x, xp.asarray(ts, dtype=be.dtype, device=be.device))
        reached = int(j)
        bar.update(reached - 1)
    finally:
        bar.close()
    if reached < m:
        if int(bad) > 0:
            raise FloatingPointError(
                f"dopri5: the error estimate is NaN or inf at t = {float(t_end):.6g} however small the step "
                f"({int(bad)} rejections in a row): the field f returns NaN/inf there (or the solution blew up)")
        if bool(stuck):
            raise FloatingPointError(f"dopri5: the step size underflowed at t = {float(t_end):.6g} (a singularity "
                                     "of the field or of the solution?)")
        raise RuntimeError(f"dopri5 exceeded max_steps={max_steps} (attempted steps) at t = {float(t_end):.6g}, "
                           f"before reaching t = {ts[reached]}; raise max_steps or loosen rtol/atol")
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
    rng: Any = None,
    return_path: bool = False,
    progress: bool = False,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> Array:
    r"""Solve :math:`dX = f(t, X)\,dt + \sqrt{2\varepsilon(t)}\,dW` from ``x0`` along a time grid (backward when
    the grid decreases). ``diffusion`` is :math:`\varepsilon`: a non-negative number or a callable of the 0-d
    time array (evaluated once before the run at the times it will use, up to 1000 of them, and refused if
    negative or non-finite there). ``rng``: anything :func:`transportkit.random.resolve_rng` takes (SPEC 7: an
    int, a ``numpy.random.Generator``, a :class:`transportkit.random.Generator`, or ``None`` for fresh entropy;
    ``seed=`` is its deprecated alias). ``f`` must return ``x0``'s shape (checked at its first evaluation). A result
    holding NaN/inf comes with a :class:`~transportkit.errors.NonFiniteWarning`. On JAX the whole run is one
    compiled loop whose noise comes from keys folded per step (:meth:`transportkit.random.Generator.at`); with a
    host stream (``rng_on_host``) the loop runs in Python."""
    solver = as_choice("solver", solver, SDE_SOLVERS)
    return_path, progress = as_bool("return_path", return_path), as_bool("progress", progress)
    if steps is not None:
        steps = as_count("steps", steps, high=MAX_GRID_STEPS)
    eps_fn = diffusion_function(diffusion)
    be, x = _initial_state(x0, backend)
    xp = be.xp
    ts = grid_times(grid, steps, t_span, be)
    gen = resolve_rng(rng, be, seed=seed)
    fc = _checked_field(f)
    if callable(diffusion):
        _check_diffusion(eps_fn, ts, solver, be)
        eps = eps_fn
    else:
        cst = eps_fn(None)

        def eps(t: Any) -> Any:
            return xp.asarray(cst, dtype=be.dtype, device=be.device)

    step = _sde_step(fc, eps, solver, xp)
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
        return _warn_nonfinite(run_steps(be, body, x, len(ts) - 1, **opts), be, f"sdeint(solver={solver!r})")

    def body_path(i: Any, x: Any, consts: tuple) -> tuple[Any, Any]:
        y = body(i, x, consts)
        return y, y

    last, path = scan_steps(be, body_path, x, len(ts) - 1, **opts)
    _warn_nonfinite(last, be, f"sdeint(solver={solver!r})")
    return xp.concat([x[None, ...], path], axis=0)
