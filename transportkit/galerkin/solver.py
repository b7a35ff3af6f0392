r"""The Neural Galerkin solver: sequential-in-time training of a parametrization for :math:`\partial_t u = f`.

A time-dependent PDE :math:`\partial_t u = f(t, x, u)` is solved by evolving the parameters of an ansatz
:math:`u(x;\theta(t))` with the Dirac–Frenkel principle: :math:`\dot\theta` minimizes
:math:`\int|\nabla_\theta u\cdot\dot\theta - f|^2\,d\nu_t`, i.e. :math:`M(\theta)\dot\theta = F(\theta)`
with :math:`M = E_\nu[\nabla_\theta u\nabla_\theta u^T]`, :math:`F = E_\nu[\nabla_\theta u\,f]`, solved as a
regularized least-squares problem on samples of :math:`\nu_t` (fixed, resampled, or adaptive particles
whose dynamics are coupled to :math:`\theta`). See :func:`solve`.

Sources: Bruna, Peherstorfer & Vanden-Eijnden, "Neural Galerkin schemes with active learning for
high-dimensional evolution equations", J. Comput. Phys. 2024 (arXiv:2203.01360); Zhang, Chen, Vanden-Eijnden &
Peherstorfer (arXiv:2404.01145); Wen, Vanden-Eijnden & Peherstorfer, Physica D 2024 (arXiv:2306.15630).

The time loop is a pure step ``(k, (theta, X, h, count, acc, err)) -> (state, (rank, cond, finite, count, residual,
accumulated error, propagated error))`` run block by block
(one block per saved snapshot) with :func:`transportkit._loops.scan_steps`: one compiled program per run on JAX,
Python loops elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._loops import progress_bar, scan_steps
from .._validation import as_bool, as_choice, as_count, as_real
from ..random import SEED_DEPRECATED, resolve_rng
from ._checks import check_problem, points_array, theta_array
from ._compiling import Identity, Loops
from .estimates import rms
from .fit import fit_initial
from .grid_error import grid_error_equation
from .params import Parametrization
from .particles import AdaptiveParticles, GridSampler, Sampler, UniformSampler, UnitSampler
from .pde import PDE
from .result import GalerkinResult, assemble_result, relative_l2_error

# DTO_ALPHA, NEWTON_TOL, SCHEMES and _dto_residual are re-exported for the old import paths
from .training import (  # noqa: F401
    DTO_ALPHA,
    NEWTON_TOL,
    SCHEMES,
    _check_optimizer,
    _check_training,
    _dto_residual,
    _make_step,
    _value_and_grad,
)

__all__ = ["GalerkinResult", "relative_l2_error", "solve"]

#: ``solve(jit=None)`` compiles runs with at least this many time steps
JIT_MIN_STEPS = 50
#: default limit on the number of time steps of a run (``t_final / dt``; for ``dopri5`` the attempted internal steps)
MAX_STEPS = 1_000_000


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


def _draws(sampler: Sampler) -> bool:
    """Whether the sampler draws random points during the run (then a compiled run needs functional draws)."""
    return type(sampler).refresh is not Sampler.refresh and bool(getattr(sampler, "resample", True))


def _make_block(step: Callable, length: int, loops: Loops) -> Callable:
    """``length`` time steps and a snapshot: ``(b, state, (key, h, k0)) -> (state, (theta, X, rank, cond,
    finite, count))`` for the steps ``k0 + b*length + j``."""

    def block(b: Any, state: tuple, consts: tuple) -> tuple:
        key, h, k0 = consts
        state, ys = loops.scan(lambda k, st: step(k, st, key, h), state, k0 + b * length, length)
        return state, (state[0], state[1], *ys)

    return block


def _run_blocks(be: Backend, make_step: Callable[[Loops], Callable], state: tuple, blocks: list[tuple[int, int]],
                consts: tuple, *, compile: bool, cache_key: Any, progress: bool, desc: str) -> list[tuple]:
    """Run ``blocks`` (``(count, length)`` pairs, in order) and return the stacked outputs of each; compiled with
    :func:`transportkit._loops.scan_steps` when ``compile``, falling back (with a warning) to Python loops when
    the step cannot be traced."""
    if compile:
        try:
            outs, k0, st = [], 0, state
            for count, length in blocks:
                block = _make_block(make_step(Loops(be, True)), length, Loops(be, True))
                key = None if cache_key is None else (*cache_key, length)
                st, ys = scan_steps(be, block, st, count, consts=(*consts, be.xp.asarray(k0)), key=key,
                                    progress=progress, desc=desc)
                outs.append(ys)
                k0 += count * length
            return outs
        except Exception as exc:  # tracing failed (e.g. a user rhs with math.sin(t)): run in Python
            import warnings

            warnings.warn(f"the Galerkin time step could not be compiled ({type(exc).__name__}: {exc}); running it "
                          "uncompiled (pass jit=False to silence this)", RuntimeWarning, stacklevel=3)
    loops = Loops(be, False)
    outs, k0 = [], 0
    bar = progress_bar(sum(c * n for c, n in blocks), progress, desc)
    try:
        for count, length in blocks:
            block = _make_block(make_step(loops), length, loops)

            def outer(b: int, st: tuple, block: Callable = block, k0: int = k0, n: int = length) -> tuple:
                st, y = block(b, st, (*consts, k0))
                bar.update(n)
                return st, y

            state, ys = loops.scan(outer, state, 0, count)
            outs.append(ys)
            k0 += count * length
    finally:
        bar.close()
    return outs


def _check_args(pde: Any, param: Any, scheme: Any, t_final: Any, dt: Any, derivatives: Any, save_every: Any,
                sampler: Any, max_steps: Any, lstsq: Any, numbers: dict[str, Any], counts: dict[str, Any],
                flags: dict[str, Any]) -> dict[str, Any]:
    """Every argument of :func:`solve` but the arrays, checked before any work; returns them as Python values."""
    check_problem(pde, param)
    out: dict[str, Any] = {
        "scheme": as_choice("scheme", scheme, SCHEMES),
        "derivatives": as_choice("derivatives", derivatives, ("auto", "autodiff", "fd")),
        "t_final": as_real("t_final", t_final, low=0.0, low_open=True),
        "save_every": as_count("save_every", save_every),
        "max_steps": as_count("max_steps", max_steps),
        "lstsq": as_choice("lstsq", lstsq, ("auto", "svd")),
    }
    out["dt"] = as_real("dt", dt, low=0.0, high=out["t_final"], low_open=True)
    if "dxxx" in pde.needs and pde.d != 1:
        raise ValueError("a third derivative needs d = 1")
    if sampler is not None and not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a transportkit.galerkin.Sampler, got {type(sampler).__name__}")
    for name, value in numbers.items():
        out[name] = as_real(name, value, low=0.0, low_open=name == "rtol")
    for name, value in counts.items():
        out[name] = as_count(name, value, low=1 if name == "newton_iters" else 0)
    for name, value in flags.items():
        out[name] = None if (name == "jit" and value is None) else as_bool(name, value)
    n_steps = max(1, round(out["t_final"] / out["dt"]))
    if n_steps > out["max_steps"]:
        raise ValueError(f"t_final/dt = {out['t_final']:.6g}/{out['dt']:.6g} asks for {n_steps} time steps, more than "
                         f"max_steps={out['max_steps']}; increase dt or pass a larger max_steps=")
    out["n_steps"] = n_steps
    return out


@declare(uses=("value_and_grad", "jit"))
def solve(
    pde: PDE,
    param: Parametrization,
    theta0: Any,
    t_final: float,
    dt: float,
    *,
    sampler: Sampler | None = None,
    scheme: str | None = None,
    training: str | None = None,
    fit: bool = True,
    fit_points: Any = None,
    fit_iters: int = 200,
    rcond: float = 1e-10,
    ridge: float = 0.0,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    newton_iters: int = 5,
    save_every: int = 1,
    rng: Any = None,
    jit: bool | None = None,
    derivatives: str = "auto",
    backend: Any = None,
    progress: bool = False,
    max_steps: int = MAX_STEPS,
    lstsq: str = "auto",
    error_equation: bool = True,
    optimizer: str = "gauss_newton",
    iterations: int | None = None,
    learning_rate: float | None = None,
    resample: bool = False,
    seed: Any = SEED_DEPRECATED,
) -> GalerkinResult:
    r"""Solve :math:`\partial_t u = f` on :math:`[0, T]` with a Neural Galerkin scheme (Bruna, Peherstorfer &
    Vanden-Eijnden, J. Comput. Phys. 2024, arXiv:2203.01360).

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
        ``"euler"``, ``"rk4"``, ``"dopri5"`` (OtD) or ``"euler"``, ``"backward_euler"``, ``"crank_nicolson"``
        (DtO); default ``"rk4"`` for OtD, ``"euler"`` for DtO.
    training
        sequential-in-time training (Zhang, Chen, Vanden-Eijnden & Peherstorfer, arXiv:2404.01145):
        ``"otd"`` (optimize-then-discretize: the Dirac–Frenkel ODE :math:`\dot\theta = J^+f` integrated by an
        explicit scheme) or ``"dto"`` (discretize-then-optimize: each step fits :math:`\theta_{k+1}` to the
        time-stepped solution, :math:`\min_\theta\|u(\theta) - u(\theta_k) - \Delta t[(1-\alpha)f_k +
        \alpha f_{k+1}(\theta)]\|^2` by Gauss–Newton from the OtD Euler predictor; :math:`\alpha` = 0, 1, 1/2
        for ``euler``, ``backward_euler``, ``crank_nicolson``); case-insensitive (``"dtO"`` is accepted).
        Default: ``"dto"`` for the implicit schemes, else ``"otd"``.
    fit, fit_points, fit_iters
        whether to fit :math:`\theta(0)` to ``pde.u0``, on which points, with how many iterations.
    rcond, ridge
        truncation and Tikhonov regularization of the least-squares step (:func:`regularized_lstsq`).
    rtol, atol
        tolerances of ``dopri5``'s error control (RMS norm of the scaled error of :math:`\theta`).
    newton_iters
        Gauss–Newton iterations per implicit step.
    save_every
        keep :math:`\theta` and the particles every that many steps (and at the end).
    rng
        seeds the samplers (one stream for the fit points, one for the run): an int, a
        ``numpy.random.Generator``, a :class:`transportkit.random.Generator` or ``None`` (fresh entropy), as in
        SciPy's SPEC 7; ``seed=`` is its deprecated alias.
    jit
        run the whole trajectory (and the initial fit) as one program compiled by the backend where it
        compiles loops (JAX; :func:`transportkit._loops.scan_steps`); Python loops elsewhere. ``pde.rhs`` then
        receives ``t`` as a 0-d array and must use ``xp`` functions of it (the built-ins do); if tracing fails
        the solver warns and runs uncompiled. ``None`` (default): compile when the run has at least 50 time
        steps (a compilation takes seconds on JAX and pays off after a few tens of steps).
    derivatives
        :math:`\partial_\theta f` in the implicit schemes: ``"auto"`` (exact by the backend's
        ``value_and_grad`` where it has one, else forward differences), ``"autodiff"`` (required) or ``"fd"``.
    backend
        as usual (else from ``theta0``; default numpy).
    progress
        a tqdm bar over time steps (advancing per compiled chunk on JAX).
    max_steps
        the most time steps a run may take (default :data:`MAX_STEPS`, ``10**6``): ``round(t_final/dt)`` above it
        is a ``ValueError`` before any work; for ``dopri5`` it bounds the attempted internal steps of the whole
        run (a ``RuntimeError`` names the time reached).
    lstsq
        how the explicit schemes solve the least-squares problems of the Runge–Kutta stages after the first:
        ``"auto"`` (default) through the regularized normal equations :math:`(J^TJ + n\lambda I)v = J^Tf` where
        ``ridge`` dominates their rounding, else by the SVD (:func:`normal_lstsq`); ``"svd"``: every stage by the
        truncated, damped SVD. The first stage of every step always uses the SVD (it reports ``rank`` and
        ``cond``).

    error_equation
        integrate the error equation on the grid alongside the run where it is defined (see Returns; about 10 % of
        a KdV step); ``False`` skips it, and ``error_estimate`` is then the accumulated residuals.
    optimizer, iterations, learning_rate, resample
        how a DtO step is fitted: ``"gauss_newton"`` (default; ``newton_iters`` iterations) or ``"adam"`` (explicit
        Euler only: ``iterations`` Adam steps, default 50, of step size ``learning_rate``, default ``3e-4``, from
        :math:`\theta_k` on the DtO loss :math:`\|(u(\theta) - u(\theta_k))/\Delta t - f_k\|^2`;
        :mod:`transportkit.galerkin.dto_adam`). With ``resample=True`` each Adam step draws a fresh batch from
        ``sampler`` (which must draw, e.g. :class:`UniformSampler`), so the fit sees the loss over the domain even
        with fewer samples per batch than parameters; this keeps the tangent space from collapsing where OtD and
        the Gauss–Newton fit over-fit :math:`n < p` samples (Zhang, Chen, Vanden-Eijnden & Peherstorfer,
        arXiv:2404.01145; docs/galerkin.md, "Rank with fewer samples than parameters"). Adam moves each parameter
        by at most about ``learning_rate`` per iteration, so ``iterations * learning_rate`` must exceed
        :math:`\max_l|\dot\theta_l|\,\Delta t`.
    Notes
    -----
    Every argument is checked before any work (docs/reliability.md): ``theta0`` a finite ``(p,)`` real array,
    ``fit_points`` finite ``(n, d)``, counts integers (NumPy integers accepted), tolerances finite and
    non-negative, ``0 < dt <= t_final``.

    Returns
    -------
    GalerkinResult
        the saved times, parameters and points, and per-step diagnostics; ``error_estimate`` is the error equation
        integrated alongside the run where ``pde`` declares ``linear_symbol`` and is sampled on its full periodic grid
        (:mod:`transportkit.galerkin.grid_error`; ``error_method == "propagated"``), else the accumulated residuals
        (``error_accumulated``).
    """
    scheme, training = _check_training(scheme, training)
    a = _check_args(pde, param, scheme, t_final, dt, derivatives, save_every, sampler, max_steps, lstsq,
                    {"rcond": rcond, "ridge": ridge, "rtol": rtol, "atol": atol},
                    {"newton_iters": newton_iters, "fit_iters": fit_iters},
                    {"fit": fit, "progress": progress, "jit": jit})
    scheme, derivatives, t_final, dt = a["scheme"], a["derivatives"], a["t_final"], a["dt"]
    error_equation = as_bool("error_equation", error_equation)
    optimizer, iterations, learning_rate, resample = _check_optimizer(
        training, scheme, optimizer, iterations, learning_rate, resample,
        _draws(_default_sampler(pde, param) if sampler is None else sampler))
    rcond, ridge, rtol, atol = a["rcond"], a["ridge"], a["rtol"], a["atol"]
    newton_iters, fit_iters, fit, progress, jit, max_steps = (a["newton_iters"], a["fit_iters"], a["fit"],
                                                              a["progress"], a["jit"], a["max_steps"])
    be = resolve_backend(theta0, backend=backend)
    xp = be.xp
    theta = theta_array("theta0", theta0, param, be)
    if pde.u0 is None and fit:
        raise ValueError(f"{pde.name} has no initial condition u0: pass fit=False with a fitted theta0")
    Xf = None if fit_points is None else points_array("fit_points", fit_points, pde.d, be)
    gen_fit, gen = resolve_rng(rng, be, seed=seed).spawn(2)
    vg = _value_and_grad(be, scheme, derivatives)
    n_steps = a["n_steps"]
    h = t_final / n_steps
    jit = n_steps >= JIT_MIN_STEPS if jit is None else bool(jit)
    sampler = _default_sampler(pde, param) if sampler is None else sampler
    fit_error = float("nan")
    if fit:
        Xf = Xf if Xf is not None else _fit_points(pde, param, theta, sampler, gen_fit, xp)
        theta, fit_error = fit_initial(param, pde.u0(Xf, xp), theta, Xf, iters=fit_iters, jit=be.jit if jit else None)
        if not math.isfinite(fit_error):
            raise ValueError("the initial fit diverged (non-finite residual); try another theta0")
    X = sampler.initial(param, theta, gen, xp)
    u_err0 = (param.value(theta, X) - pde.u0(X, xp) if pde.u0 is not None
              else xp.full((X.shape[0],), xp.nan, dtype=theta.dtype, device=be.device))
    e0 = float(rms(u_err0, xp))
    fixed = not _draws(sampler) and not sampler.coupled
    se = int(save_every)
    blocks = [(n, k) for n, k in ((n_steps // se, se), (1, n_steps % se)) if n > 0 and k > 0]

    grid = grid_error_equation(pde, sampler, be) if error_equation else None
    grid_points = X if isinstance(sampler, GridSampler) else None

    def make_step(loops: Loops) -> Callable:
        step = _make_step(pde, param, sampler, scheme, rcond=rcond, ridge=ridge, rtol=rtol, atol=atol,
                          newton_iters=int(newton_iters), value_and_grad=vg, loops=loops, gen=gen,
                          max_steps=max_steps, training=training, lstsq=a["lstsq"], grid=grid, optimizer=optimizer,
                          iterations=iterations, learning_rate=learning_rate, resample=resample)
        # the step size is a constant of the compiled program (it is in the cache key), and so are the points of a
        # fixed grid (a function of the sampler, which is in the key): XLA then folds the arithmetic on them, about
        # 15 % of a KdV step on the CPU runtime

        def fixed_step(k: Any, st: tuple, key: Any, _h: Any) -> tuple:
            if grid_points is not None:
                st = (st[0], grid_points, *st[2:])
            return step(k, st, key, h)

        return fixed_step

    # the step uses gen only through gen.at(key, k), which depends on the key argument alone
    cache_key = ("galerkin.solve", Identity(pde), Identity(param), Identity(sampler), scheme, float(rcond),
                 float(ridge), float(rtol), float(atol), int(newton_iters), vg is not None, max_steps, training,
                 a["lstsq"], float(h), grid is not None, optimizer, iterations, learning_rate, resample)
    h_arr = xp.asarray(h, dtype=theta.dtype, device=be.device)
    u_grid = param.value(theta, X) if grid is not None else u_err0
    state = (theta, X, h_arr, xp.asarray(0, device=be.device), u_err0, (u_err0, u_grid))
    outs = _run_blocks(be, make_step, state, blocks, (gen.loop_key(), h_arr),
                       compile=jit and be.compiles_loops and (gen.functional or not _draws(sampler)),
                       cache_key=cache_key, progress=progress, desc=f"galerkin {pde.name}")
    return assemble_result(be, outs, theta, X, n_steps, h, se, fit_error, param, pde, max_steps, training, e0, fixed,
                           propagated=grid is not None)


