r"""Annealed importance sampling (AIS; Neal 2001, arXiv:physics/9803008) and sequential Monte Carlo (SMC; Del Moral,
Doucet & Jasra 2006, arXiv:cond-mat/0512119) along a path of densities.

Path: :math:`\log\rho_t`, t ∈ [0, 1], from a normalized base :math:`\rho_0` to the (unnormalized) target;
by default geometric, :math:`\log\rho_t = (1-t)\log\rho_0 + t\log\tilde\rho_1`, with
:math:`\rho_0 = \mathcal N(0, \sigma^2 I)` (σ = ``base_scale``, default ``target.base_scale`` or 1).

On a grid :math:`0 = t_0 < t_1 < \dots < t_K = 1`, walkers :math:`x^i\sim\rho_0` with log-weights
:math:`A^i = 0`. For k = 1..K:

.. math:: A^i \mathrel{+}= \log\rho_{t_k}(x^i) - \log\rho_{t_{k-1}}(x^i)

(the Jarzynski / Neal weights, accumulated in log space), then ``n_mcmc`` steps of an MCMC kernel (MALA, HMC,
RWM; ULA is biased) invariant for :math:`\rho_{t_k}`, its step size adapted toward a target acceptance. Then

.. math:: \log\hat Z = \log Z_0 + \operatorname{logmeanexp}_i A^i,\qquad w^i = \mathrm{softmax}(A)^i,\qquad
          \mathrm{ESS} = e^{2\,\mathrm{logsumexp}(A) - \mathrm{logsumexp}(2A)}.

**SMC**: after the reweighting of step k (k < K), the islands whose ESS/m is below ``ess_threshold`` resample
(multinomial, systematic or stratified), add :math:`\operatorname{logmeanexp}(A)` to their running
:math:`\log\hat Z` and reset A = 0; the final :math:`\log\hat Z` is the sum over epochs including the last one.

**Adaptive tempering** (Jasra, Stephens, Doucet & Tsagaris 2011; Zhou, Johansen & Aston 2016, arXiv:1303.3123): the
next :math:`t_k` solves, by a fixed number of bisection steps, conditional ESS
:math:`\big(\sum_i W^i e^{\Delta^i}\big)^2/\sum_i W^i e^{2\Delta^i}` = ``target_cess`` (W the normalized weights,
:math:`\Delta^i = \log\rho_{t_k}(x^i) - \log\rho_{t_{k-1}}(x^i)`).

**Standard error**: for one epoch :math:`\widehat{\mathrm{Var}}\log\hat Z \approx (n/\mathrm{ESS} - 1)/(n-1)`
(delta method on the mean of :math:`e^{A}`). With resampling and one population the epochs' variances are summed
(an approximation that ignores the correlations created by resampling and underestimates the spread); with
``islands = K`` (default: up to 10 islands of at least 100 walkers) the walkers form K independent SMC
populations and the standard error comes from the spread of their K estimates (consistent;
:mod:`transportkit.sampling.resampling`).

**Compiled runs.** One annealing step (reweight, resample where ESS is low, move, adapt) is a pure function of the
carry; the fixed grid runs as one ``scan`` and adaptive tempering as one ``while_loop`` with ``max_steps`` bound and
per-step traces written into preallocated buffers, each one compiled program on JAX (geometric paths; a custom path is
stepped in Python). Elsewhere the same step runs in a Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import array_api_extra as xpx

from .._capabilities import declare
from .._loops import Loops, run_while, scan_steps
from ..numerics import ess as _ess
from ..numerics import logmeanexp, logsumexp
from ._common import make_path
from .kernels import KERNEL_STEPS, MCMCParams, MCMCState, adapt_step_size, init_state
from .options import SamplerOptions, check_count
from .resampling import (
    RESAMPLERS,
    ResampleConfig,
    ResampleState,
    finish_arrays,
    log_mean_var_array,
    resample_config,
    resample_indices,
    resample_init,
    resample_step,
)
from .results import AISInfo, Samples

__all__ = ["RESAMPLERS", "ais", "resample_indices", "smc"]

#: bisection steps of adaptive tempering: the temperature to (1 - t) 2^-20
BISECT_STEPS = 20


class AISCarry(NamedTuple):
    """The state of a run between annealing steps: the walkers as an MCMC state (``extra`` holds the path's parts),
    their log-weights ``A``, the resampling bookkeeping (None for AIS) and the current temperature ``t``."""

    mc: MCMCState
    A: Any
    rs: ResampleState | None
    t: Any


def _next_t(path: Any, t: Any, parts: tuple, A: Any, goal: float, be: Any) -> Any:
    """The next temperature of adaptive tempering: 1 if the conditional ESS at 1 is above ``exp(goal)``, else
    :data:`BISECT_STEPS` bisection steps on [t, 1] (array operations, no host sync)."""
    xp = be.xp
    lw = A - logsumexp(A, xp=xp)
    lp_t = path.log_prob(t, parts)

    def log_cess(s: Any) -> Any:
        d = path.log_prob(s, parts) - lp_t
        d = xp.where(xp.isnan(d), -math.inf, d)
        return 2 * logsumexp(lw + d, xp=xp) - logsumexp(lw + 2 * d, xp=xp)

    one = xp.ones_like(t)

    def bisect(_: Any, lohi: tuple[Any, Any]) -> tuple[Any, Any]:
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        ok = log_cess(mid) >= goal
        return xp.where(ok, mid, lo), xp.where(ok, hi, mid)

    lo, _ = be.fori_loop(0, BISECT_STEPS, bisect, (t, one))
    return xp.where(log_cess(one) >= goal, one, xp.maximum(lo, t + 1e-10))


def _make_step(
    pth: Any, opts: SamplerOptions, cfg: ResampleConfig | None, gen: Any, be: Any, compiled: bool
) -> Callable:
    """``step(carry, t_new, key, index) -> (carry, outputs)``: one annealing step (reweight, resample, move, adapt).
    ``index`` numbers the step's draws (``gen.at(key, index * (n_mcmc + 1) + j)``)."""
    xp, n_mcmc = be.xp, opts.n_mcmc
    step_fn, a_star, stride = KERNEL_STEPS[opts.kernel], opts.a_star, opts.n_mcmc + 1

    def step(c: AISCarry, t: Any, key: Any, index: Any) -> tuple[AISCarry, tuple]:
        mc, A, rs = c.mc, c.A, c.rs
        t_out = xp.asarray(t, dtype=A.dtype, device=be.device)
        parts = mc.extra
        inc = pth.log_prob(t, parts) - pth.log_prob(c.t, parts)
        A = A + xp.where(xp.isnan(inc), -math.inf, inc)
        x = mc.x
        event = lme = xp.zeros((), dtype=A.dtype, device=be.device)
        if cfg is None:
            ess_rel = _ess(A, xp=xp) / A.shape[0]
        else:
            ess_rel = _ess(_island_log_weights(cfg, rs, A, xp), xp=xp) / cfg.n
            g = gen.at(key, index * stride)
            rs, A, x, parts, ev, lme = resample_step(cfg, rs, A, x, parts, g, xp, allow=t_out < 1.0)
            event = xp.astype(ev, A.dtype)
        if not n_mcmc:
            return AISCarry(mc._replace(x=x, extra=parts), A, rs, t), (
                t_out,
                ess_rel,
                event,
                lme,
                _empty(xp, A),
                _empty(xp, A),
            )

        def fn(y: Any) -> tuple[Any, Any, tuple]:
            p = pth.evaluate(y)
            return pth.log_prob(t, p), pth.grad(t, p), p

        params = MCMCParams(fn, opts.n_leapfrog)
        s = MCMCState(x, pth.log_prob(t, parts), pth.grad(t, parts), parts, mc.step_size)

        def move(j: Any, s: MCMCState) -> tuple[MCMCState, tuple]:
            h = s.step_size
            s, info = step_fn(s, gen.at(key, index * stride + 1 + j), params)
            return adapt_step_size(s, info.mean_acceptance, a_star), (info.mean_acceptance, h)

        s, (accs, hs) = Loops(be, compiled).scan(move, s, 0, n_mcmc)
        return AISCarry(s, A, rs, t), (t_out, ess_rel, event, lme, accs, hs)

    return step


def _empty(xp: Any, A: Any) -> Any:
    return xp.zeros((0,), dtype=A.dtype, device=getattr(A, "device", None))


def _island_log_weights(cfg: ResampleConfig, rs: ResampleState, A: Any, xp: Any) -> Any:
    return xp.reshape(rs.log_z[:, None] + xp.reshape(A, (cfg.K, cfg.m)), (cfg.n,))


def _run_fixed(step: Callable, carry: AISCarry, steps: int, be: Any, compiled: bool, key: Any, opts: Any, gen: Any):
    grid = [1.0 if k == steps else k / steps for k in range(steps + 1)]
    if compiled:
        grid = be.xp.asarray(grid, dtype=carry.A.dtype, device=be.device)
    loop_key = gen.loop_key() if compiled else None

    def body(i: Any, c: AISCarry, consts: tuple) -> tuple[AISCarry, tuple]:
        return step(c, consts[1][i + 1], consts[0], i)

    desc = "ais" if carry.rs is None else "smc"
    carry, ys = scan_steps(be, body, carry, steps, consts=(loop_key, grid), key=key, progress=opts.progress,
                         desc=desc, compile=compiled)  # fmt: skip
    return carry, ys, steps


def _run_adaptive(
    step: Callable, carry: AISCarry, pth: Any, target_cess: float, max_steps: int, n_mcmc: int, be: Any,
    compiled: bool, key: Any, gen: Any,
) -> tuple[AISCarry, tuple, int]:  # fmt: skip
    """Adaptive tempering as one while loop; per-step traces in buffers of length ``max_steps``, trimmed after."""
    xp, dt, dev = be.xp, carry.A.dtype, be.device
    goal = math.log(target_cess)
    bufs = (
        xp.zeros((max_steps,), dtype=dt, device=dev),  # t
        xp.zeros((max_steps,), dtype=dt, device=dev),  # ess/n
        xp.zeros((max_steps,), dtype=dt, device=dev),  # resampling event
        xp.zeros((max_steps,), dtype=dt, device=dev),  # logmeanexp before resampling
        xp.zeros((max_steps, n_mcmc), dtype=dt, device=dev),  # acceptance
        xp.zeros((max_steps, n_mcmc), dtype=dt, device=dev),  # step size
    )
    k0 = xp.asarray(0, dtype=xp.int32, device=dev) if compiled else 0
    carry = carry._replace(t=xp.asarray(carry.t, dtype=dt, device=dev))

    def cond(state: tuple, consts: tuple) -> Any:
        c, k, _ = state
        return (c.t < 1.0) & (k < max_steps)

    def body(state: tuple, consts: tuple) -> tuple:
        c, k, b = state
        t = _next_t(pth, c.t, c.mc.extra, c.A, goal, be)
        c, ys = step(c, t, consts[0], k)
        b = tuple(xpx.at(buf, (k, ...)).set(y) for buf, y in zip(b, ys, strict=True))
        return c, k + 1, b

    loop_key = gen.loop_key() if compiled else None
    carry, k, bufs = run_while(be, compiled, cond, body, (carry, k0, bufs), key=key, consts=(loop_key,))
    k = int(k)
    if float(carry.t) < 1.0:
        raise RuntimeError(f"adaptive tempering did not reach t = 1 in {max_steps} steps (t = {float(carry.t)})")
    return carry, tuple(b[:k, ...] for b in bufs), k


@declare(uses=("value_and_grad",), name="tk.sample(method='ais')")
def ais(
    target: Any,
    n: int,
    *,
    steps: int = 100,
    kernel: str = "mala",
    n_mcmc: int = 1,
    step_size: float | None = None,
    adapt_step_size: bool = True,
    target_accept: float | None = None,
    n_leapfrog: int = 5,
    path: Any = None,
    base: Any = None,
    base_mean: Any = 0.0,
    base_scale: float | None = None,
    schedule: Any = None,
    resample: str | None = None,
    ess_threshold: float = 0.5,
    islands: int | None = None,
    adaptive: bool = False,
    target_cess: float = 0.99,
    max_steps: int = 10_000,
    return_works: bool = False,
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    seed: Any = None,
    progress: bool = False,
) -> Samples:
    r"""AIS (``resample=None``) or SMC (``resample`` in ``("multinomial", "systematic", "stratified")``) from
    the base to ``target`` in ``steps`` annealing steps (a uniform grid, or adaptive with ``adaptive=True``,
    where ``steps`` is ignored and at most ``max_steps`` are taken); see the module docstring for the math.

    Parameters
    ----------
    target
        object with ``log_prob`` and ``grad_log_prob`` (batched over rows), a :class:`~transportkit.targets.Target`,
        or a pair of callables.
    n : int
        number of walkers (>= 2).
    steps : int
        annealing steps of the uniform grid.
    kernel, n_mcmc, step_size, adapt_step_size, target_accept, n_leapfrog, backend, device, dtype, seed, progress
        the MCMC moves after each reweighting and where to run: see
        :class:`~transportkit.sampling.options.SamplerOptions`.
    path, base, base_mean, base_scale, schedule
        a custom path (see :class:`~transportkit.sampling._common.CustomPath`, or
        :class:`~transportkit.sampling.InterpolantPath`); else geometric from ``base`` (default
        :math:`\mathcal N(\text{base\_mean}, \text{base\_scale}^2 I)`) with ``schedule = (lam, dlam)`` (default
        λ(t) = t; it must accept 0-d arrays on JAX).
    resample, ess_threshold, islands : str or None, float, int or None
        SMC resampling method (``None``: AIS), the ESS/n below which a population resamples, and the number
        of independent populations (n/islands walkers each) whose spread gives the standard error (default
        :func:`~transportkit.sampling.resampling.auto_islands`: up to 10 of at least 100 walkers).
    adaptive, target_cess, max_steps : bool, float, int
        adaptive tempering with conditional ESS ``target_cess`` and at most ``max_steps`` steps.
    return_works : bool
        put the per-walker works :math:`W^i = -A^i` (so that
        :math:`\Delta F = -\log(Z_1/Z_0) = -\log\frac1n\sum_i e^{-W^i}`) in ``info["works"]``; AIS only.

    Returns
    -------
    Samples
        ``x`` (n, d), ``log_weights`` (shifted so that ``logmeanexp(log_weights) == log_Z``), ``log_Z``,
        ``log_Z_stderr``, ``ess`` (Kish ESS of the final weights, between 1 and n) and ``info`` an
        :class:`~transportkit.sampling.results.AISInfo`.
    """
    opts = SamplerOptions(
        kernel=kernel, n_mcmc=n_mcmc, step_size=step_size, adapt_step_size=adapt_step_size,
        target_accept=target_accept, n_leapfrog=n_leapfrog, backend=backend, device=device, dtype=dtype, seed=seed,
        progress=progress,
    )  # fmt: skip
    n = check_count("n", n, 2)
    steps = steps if adaptive else check_count("steps", steps, 1)
    max_steps = check_count("max_steps", max_steps, 1)
    cfg = _check_run(n, resample, ess_threshold, islands, target_cess, return_works)
    be, gen = opts.resolve()
    pth = make_path(target, be, path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule)
    compiled = be.compiles_loops and gen.functional and getattr(pth, "geometric", False)
    path_key = pth.cache_key(target) if compiled else None
    x = pth.sample0(n, gen)
    parts, lp0, g0 = _first_evaluation(pth, x, be, compiled, path_key)
    xp = be.xp
    scale = getattr(getattr(pth, "base", None), "scale", 1.0)
    mc = init_state(x, lp0, g0, parts, opts.initial_step_size(scale, x.shape[1]))
    A = xp.zeros((n,), dtype=x.dtype, device=be.device)
    rs = None if cfg is None else resample_init(cfg, xp, A.dtype, be.device)
    step = _make_step(pth, opts, cfg, gen, be, compiled)
    key = ("ais", adaptive, opts.kernel, opts.n_mcmc, opts.n_leapfrog, opts.a_star, cfg, target_cess, max_steps,
           path_key)  # fmt: skip
    carry = AISCarry(mc, A, rs, xp.zeros((), dtype=A.dtype, device=be.device) if compiled else 0.0)
    if adaptive:
        carry, ys, k = _run_adaptive(step, carry, pth, target_cess, max_steps, opts.n_mcmc, be, compiled, key, gen)
    else:
        carry, ys, k = _run_fixed(step, carry, steps, be, compiled, key, opts, gen)
    return _result(carry, ys, k, cfg, pth, opts, be, n, return_works, compiled)


def _first_evaluation(pth: Any, x: Any, be: Any, compiled: bool, path_key: Any) -> tuple[tuple, Any, Any]:
    """The path's parts at the initial walkers, checked (NaN/+inf log_prob or a bad gradient: ``ValueError`` naming
    the walker, before any work), and the log-density and gradient at t = 0. Compiled as one program on JAX (then
    only a failing check runs eagerly, to name the walker)."""

    def evaluate(y: Any) -> tuple:
        p = pth.evaluate(y)
        return p, pth.log_prob(0.0, p), pth.grad(0.0, p), pth.any_bad(p)

    if not (compiled and pth.density.bound):
        parts = pth.evaluate(x)
        pth.check(x, parts)
        return parts, pth.log_prob(0.0, parts), pth.grad(0.0, parts)
    parts, lp0, g0, bad = be.compiled(("ais-first", path_key), lambda: evaluate)(x)
    n, d = x.shape
    if tuple(parts[1].shape) != (n,) or tuple(parts[3].shape) != (n, d) or bool(bad):
        pth.check(x, parts)
    return parts, lp0, g0


def _summary(cfg: ResampleConfig | None, rs: ResampleState | None, A: Any, xp: Any) -> tuple:
    """``(any NaN weight, log Z - log Z0, its variance, final log-weights, per-island log Z - log Z0, ESS,
    logmeanexp(A))`` as arrays (one compiled program on JAX)."""
    if cfg is None:
        lz, var, log_w, lz_k = logmeanexp(A, xp=xp), log_mean_var_array(A, xp), A, None
    else:
        lz, var, log_w, lz_k = finish_arrays(cfg, rs, A, xp)
    return xp.any(xp.isnan(A)), lz, var, log_w, lz_k, _ess(log_w, xp=xp), logmeanexp(A, xp=xp)


def _check_run(
    n: int, resample: str | None, ess_threshold: float, islands: Any, target_cess: float, return_works: bool
) -> ResampleConfig | None:
    """The run's checks that need no backend; returns the resampling configuration (None: AIS)."""
    if resample is not None and resample not in RESAMPLERS:
        raise ValueError(f"unknown resampling method {resample!r}; choose one of {RESAMPLERS} or None")
    if not 0 < ess_threshold <= 1:
        raise ValueError(f"ess_threshold must be in (0, 1], got {ess_threshold}")
    if not 0 < target_cess < 1:
        raise ValueError(f"target_cess must be in (0, 1), got {target_cess}")
    if return_works and resample is not None:
        raise ValueError("return_works needs resample=None: works of resampled walkers are not Jarzynski works")
    if resample is None:
        if islands not in (None, 1):
            raise ValueError(f"islands = {islands!r} needs resampling (give resample=...)")
        return None
    return resample_config(resample, n, islands, ess_threshold)


def _result(
    carry: AISCarry, ys: tuple, k: int, cfg: ResampleConfig | None, pth: Any, opts: SamplerOptions, be: Any, n: int,
    return_works: bool,
    compiled: bool,
) -> Samples:  # fmt: skip
    """Host-side summary after the loop: the estimate, its standard error and the typed info."""
    xp, A = be.xp, carry.A

    def summarize(rs: ResampleState | None, a: Any) -> tuple:
        return _summary(cfg, rs, a, xp)

    run = be.compiled(("ais-summary", cfg), lambda: summarize) if compiled else summarize
    nan, lz_a, var_a, log_w, lz_k, ess_a, lme_a = run(carry.rs, A)
    if bool(nan):
        i = int(xp.argmax(xp.astype(xp.isnan(A), xp.int32)))
        raise ValueError(f"a log-weight became NaN (walker {i}): the target's log_prob returned NaN during the run")
    ts, ess_t, events, lmes, accs, hs = (be.to_numpy(y) for y in ys)
    lz, var = float(lz_a), float(var_a)
    acc_trace = [float(v) for v in accs.reshape(-1).tolist()]
    ess_final = float(ess_a)
    epochs = islands_lz = None
    if cfg is not None and cfg.K == 1:
        epochs = [float(v) for v, e in zip(lmes.tolist(), events.tolist(), strict=True) if e] + [float(lme_a)]
    elif cfg is not None:
        islands_lz = [v + pth.log_Z0 for v in be.to_numpy(lz_k).tolist()]
    info = AISInfo(
        times=[0.0, *(float(t) for t in ts.tolist())],
        ess_trace=[float(v) for v in ess_t.tolist()],
        acceptance=sum(acc_trace) / len(acc_trace) if acc_trace else None,
        acceptance_trace=acc_trace,
        step_size=float(carry.mc.step_size),
        step_size_trace=[float(v) for v in hs.reshape(-1).tolist()],
        n_resample=0 if cfg is None else int(carry.rs.events),
        steps=k,
        kernel=opts.kernel,
        ess_relative=ess_final / n,
        target_evaluations=n * (1 + k * opts.n_mcmc * opts.evals_per_step()),
        islands=None if cfg is None else cfg.K,
        log_Z_epochs=epochs,
        log_Z_islands=islands_lz,
        works=-A if return_works else None,
    )
    return Samples(
        x=carry.mc.x, log_weights=log_w + pth.log_Z0, log_Z=lz + pth.log_Z0, log_Z_stderr=math.sqrt(var),
        ess=ess_final, info=info, backend=be,
    )  # fmt: skip


@declare(uses=("value_and_grad",), name="tk.sample(method='smc')")
def smc(target: Any, n: int, *, resample: str = "systematic", ess_threshold: float = 0.5, **kwargs: Any) -> Samples:
    """Sequential Monte Carlo: :func:`ais` with resampling (systematic by default) whenever ESS/n drops
    below ``ess_threshold``."""
    return ais(target, n, resample=resample, ess_threshold=ess_threshold, **kwargs)
