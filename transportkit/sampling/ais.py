r"""Annealed importance sampling (AIS; Neal 2001, arXiv:physics/9803008) and sequential Monte Carlo (SMC; Del Moral,
Doucet & Jasra 2006, arXiv:cond-mat/0512119) along a path of densities.

Path: :math:`\log\rho_t`, t ∈ [0, 1], from a normalized base :math:`\rho_0` to the (unnormalized) target;
by default geometric, :math:`\log\rho_t = (1-t)\log\rho_0 + t\log\tilde\rho_1`, with
:math:`\rho_0 = \mathcal N(0, \sigma^2 I)` (σ = ``base_scale``, default ``target.base_scale`` or 1).

On a grid :math:`0 = t_0 < t_1 < \dots < t_K = 1`, walkers :math:`x^i\sim\rho_0` with log-weights
:math:`A^i = 0`. For k = 1..K:

.. math:: A^i \mathrel{+}= \log\rho_{t_k}(x^i) - \log\rho_{t_{k-1}}(x^i)

(the Jarzynski / Neal weights, accumulated in log space), then MCMC moves (MALA, HMC, RWM; ULA is biased)
invariant for :math:`\rho_{t_k}`, their step size adapted toward a target acceptance. Then

.. math:: \log\hat Z = \log Z_0 + \operatorname{logmeanexp}_i A^i,\qquad w^i = \mathrm{softmax}(A)^i,\qquad
          \mathrm{ESS} = e^{2\,\mathrm{logsumexp}(A) - \mathrm{logsumexp}(2A)}.

**Moves that mix.** With ``n_mcmc=None`` (the default) the number of moves per annealing step adapts: after move
j the per-coordinate weighted Pearson correlation between the walkers' positions before the moves and now,
averaged over the coordinates, :math:`c_j` (:math:`c_0 = 1`), is computed; moves repeat while
:math:`c_j > 0.05` and the last move lowered it by more than 0.005, at most ``max_mcmc`` times (the stopping rule
of pymc's SMC kernels: moves continue while they still decorrelate the particles; walkers stuck in separate modes
stop it after a move or two instead of burning the cap). The proposal is preconditioned by the weighted particle
cloud (``precondition="diag"``: the particles' standard deviations per coordinate; ``"full"``: their covariance;
:func:`~transportkit.sampling.kernels.particle_scale`), so that the step size is relative to the current spread of
:math:`\rho_{t_k}` (Chopin 2002; Buchholz, Chopin & Jacob 2021, arXiv:1808.07730). Both adaptations use the whole
population of an island (each island adapts on its own): the kernels stay invariant for :math:`\rho_{t_k}`.

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
populations, each a whole SMC run from its own random stream (run here — on JAX, fixed-grid runs as one program
mapped over the islands — or as Dask tasks with ``client=``: the same numbers, to the bit on NumPy), and the
standard error comes from the spread of their K estimates (consistent;
:mod:`transportkit.sampling.islands`).

**Diagnostics** (warnings of :mod:`transportkit.errors`, docs/reliability.md):

- :class:`~transportkit.errors.NonFiniteWarning` when the target returned NaN/+inf (or a non-finite gradient) at
  some proposals or walkers during the run: those proposals were rejected (a NaN or +inf is never accepted nor taken
  for zero density silently); their number is ``info.n_nonfinite``;
- :class:`~transportkit.errors.DegenerateWeightsWarning` when the final ESS/n is below :data:`ESS_WARNING` (1%), or
  the tail of the final weights is heavier than importance sampling can handle: the Pareto shape
  :math:`\hat k` of the largest weights (generalized Pareto fit of Zhang & Stephens 2009, with the prior of Vehtari,
  Simpson, Gelman, Yao & Gabry 2024, arXiv:1507.02646) above :data:`PARETO_K_WARNING` (0.7)
  (``info.pareto_k``). An improper target (e.g. ``log_prob ≡ 0``) makes the last annealing step's weights
  :math:`e^{(1-t)|x|^2/2}` under :math:`\mathcal N(0, (1-t)^{-1})`: Pareto with :math:`k = 1` (infinite mean);
- :class:`~transportkit.errors.UncertaintyWarning` when the islands' :math:`\log\hat Z_k` scatter more than the
  reported standard error allows: :math:`(K-1)s^2/(K\,\mathrm{SE}^2)` against :math:`\chi^2_{K-1}`, p < 10⁻³
  (s the standard deviation of the :math:`\log\hat Z_k`).

**Compiled runs.** One annealing step (reweight, resample where ESS is low, precondition, move while the moves
decorrelate, adapt) is a pure function of the carry; the fixed grid runs as one ``scan`` and adaptive tempering as one
``while_loop`` with ``max_steps`` bound and per-step traces written into preallocated buffers, each one compiled
program on JAX (geometric paths; a custom path is stepped in Python); the moves of a step are an inner
``while_loop`` (none for one fixed move), and the resampling's draw and gathers run only at the steps that
resample. Elsewhere the same step runs in a Python loop.
"""

from __future__ import annotations

import math
from typing import Any

from .._capabilities import declare
from .._dask import check_client, task_seeds
from .._validation import as_bool, as_choice, as_count, as_points, as_probability, as_real, check_options
from ..random import SEED_DEPRECATED
from ._common import Unfusable, make_path
from .ais_step import make_step, run_adaptive, run_fixed
from .ais_whole import initial_carry, result, run_islands_whole, run_whole_ais
from .islands import IslandRun, run_islands
from .options import SamplerOptions, check_target_dim
from .pilot import pilot_base
from .resampling import (
    RESAMPLERS,
    ResampleConfig,
    resample_config,
    resample_indices,
)
from .results import Samples
from .weight_diagnostics import ESS_WARNING, PARETO_K_WARNING, diagnose, pareto_k

_diagnose = diagnose  # the name the reliability tests import

__all__ = ["ESS_WARNING", "PARETO_K_WARNING", "RESAMPLERS", "ais", "pareto_k", "pilot_base", "resample_indices", "smc"]


def _with_dim(target: Any, dim: int) -> Any:
    """A pair ``(log_prob, grad_log_prob)`` as an object with ``dim`` (so that ``x0`` tells the dimension)."""
    if getattr(target, "dim", None) is not None or not isinstance(target, (tuple, list)) or len(target) != 2:
        return target

    class _Pair:
        log_prob, grad_log_prob = staticmethod(target[0]), staticmethod(target[1])

    p = _Pair()
    p.dim = dim  # type: ignore[attr-defined]
    return p


@declare(uses=("value_and_grad",), name="tk.sample(method='ais')")
def ais(
    target: Any,
    n: int,
    *,
    steps: int = 100,
    kernel: str = "mala",
    n_mcmc: int | None = None,
    max_mcmc: int = 10,
    precondition: str = "diag",
    step_size: float | None = None,
    adapt_step_size: bool = True,
    target_accept: float | None = None,
    n_leapfrog: int = 5,
    path: Any = None,
    base: Any = None,
    base_mean: Any = None,
    base_scale: float | None = None,
    schedule: Any = None,
    x0: Any = None,
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
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    progress: bool = False,
    client: Any = None,
    _where: str = "ais()",
    _island: bool = False,
    **unknown: Any,
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
    n_mcmc, max_mcmc : int or None, int
        MCMC moves per annealing step: ``n_mcmc`` fixed, or (``None``, the default) adaptive, repeated while they
        decorrelate the walkers, at most ``max_mcmc`` (see the module docstring).
    precondition : {"diag", "full", "none"}
        scale the proposals by the weighted particles' standard deviations (default), covariance, or not at all.
    kernel, step_size, adapt_step_size, target_accept, n_leapfrog, backend, device, dtype, rng, progress
        the MCMC moves after each reweighting and where to run: see
        :class:`~transportkit.sampling.options.SamplerOptions` (``seed`` is the deprecated alias of ``rng``).
    path, base, base_mean, base_scale, schedule
        a custom path (see :class:`~transportkit.sampling._common.CustomPath`, or
        :class:`~transportkit.sampling.InterpolantPath`); else geometric from ``base`` (default
        :math:`\mathcal N(\text{base\_mean}, \text{base\_scale}^2 I)`) with ``schedule = (lam, dlam)`` (default
        λ(t) = t; it must accept 0-d arrays on JAX). When none of ``path, base, base_mean, base_scale, x0`` is
        given and the target has no ``base_scale`` attribute, the base comes from a **pilot**: a short SMC run
        (:func:`pilot_base`) whose weighted particles give the base mean and a scale 2 times their largest
        standard deviation (a base with tails at least as heavy as the target's keeps the weights of the last
        annealing steps of finite variance; from a narrower base they can have an infinite variance, e.g. a banana
        target, whose tail along the ridge is exponential, from N(0, I)). Its cost is in ``info.target_evaluations``
        (``info.pilot`` holds its base).
    x0 : array (n, d), optional
        the initial walkers, which the weights take for draws from the base :math:`\rho_0` (checked on the
        geometric path: a sample mean or variance far from the base's is a ``ValueError``); it also tells the
        dimension of a target that has none (a pair of callables).
    resample, ess_threshold, islands : str or None, float, int or None
        SMC resampling method (``None``: AIS), the ESS/n below which a population resamples, and the number
        of independent populations (n/islands walkers each) whose spread gives the standard error (default
        :func:`~transportkit.sampling.resampling.auto_islands`: up to 10 of at least 100 walkers).
    adaptive, target_cess, max_steps : bool, float, int
        adaptive tempering with conditional ESS ``target_cess`` and at most ``max_steps`` steps.
    client : dask.distributed.Client, optional
        run the ``islands`` (SMC with ``islands >= 2``) as Dask tasks on its cluster, retried on failure; the
        result is the one this process computes with the same ``rng`` (bit-identical on NumPy), see
        :mod:`transportkit.sampling.islands` and docs/scaling.md.
    return_works : bool
        put the per-walker works :math:`W^i = -A^i` (so that
        :math:`\Delta F = -\log(Z_1/Z_0) = -\log\frac1n\sum_i e^{-W^i}`) in ``info["works"]``; AIS only.

    Returns
    -------
    Samples
        ``x`` (n, d), ``log_weights`` (shifted so that ``logmeanexp(log_weights) == log_Z``), ``log_Z``,
        ``log_Z_stderr``, ``ess`` (Kish ESS of the final weights, between 1 and n) and ``info`` an
        :class:`~transportkit.sampling.results.AISInfo`. Warnings (NaN/+inf met, degenerate or heavy-tailed
        weights, islands that disagree with the stderr) as listed in the module docstring.
    """
    w = _where
    if unknown:
        check_options(w, unknown, _AIS_OPTIONS | {"resample", "ess_threshold", "return_works"})
    opts = SamplerOptions(
        kernel=kernel, n_mcmc=n_mcmc, step_size=step_size, adapt_step_size=adapt_step_size,
        target_accept=target_accept, n_leapfrog=n_leapfrog, backend=backend, device=device, dtype=dtype, rng=rng,
        seed=seed, progress=progress, max_mcmc=max_mcmc, precondition=precondition, where=w,
    )  # fmt: skip
    n = as_count(f"{w}: n", n, 2)
    adaptive = as_bool(f"{w}: adaptive", adaptive)
    steps = steps if adaptive else as_count(f"{w}: steps", steps, 1)
    max_steps = as_count(f"{w}: max_steps", max_steps, 1)
    cfg = _check_run(w, n, resample, ess_threshold, islands, target_cess, return_works)
    client = check_client(w, client)
    if client is not None and (cfg is None or cfg.K == 1):
        raise ValueError(f"{w}: client= runs islands as tasks: give resample=... and islands >= 2")
    target_cess = float(target_cess)
    check_target_dim(w, target)
    be, gen = opts.resolve() if x0 is None else opts.resolve(x0)
    if x0 is not None:
        x0 = as_points(f"{w}: x0", x0, be, ndim=2)
        if x0.shape[0] != n:
            raise ValueError(f"{w}: x0 must have shape (n, d) with n = {n}, got {tuple(x0.shape)}")
        target = _with_dim(target, int(x0.shape[1]))
    pilot = None
    if path is None and base is None and base_mean is None and base_scale is None and x0 is None:
        if getattr(target, "base_scale", None) is None:
            pilot = pilot_base(target, n, steps if not adaptive else 20, opts, be, gen, ais)
            base_mean, base_scale = pilot["mean"], pilot["scale"]
    base_mean = 0.0 if base_mean is None else base_mean
    pth = make_path(target, be, path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule,
                    x0=x0, need_grad=opts.kernel != "rwm")
    compiled = be.compiles_loops and gen.functional and getattr(pth, "geometric", False)
    path_key = pth.cache_key(target) if compiled else None
    if x0 is not None and not _island:
        x0 = _check_x0(w, x0, pth, be)
    if cfg is not None and cfg.K > 1:
        kw = {"steps": steps, "kernel": kernel, "n_mcmc": n_mcmc, "max_mcmc": max_mcmc, "precondition": precondition,
              "step_size": step_size, "adapt_step_size": adapt_step_size, "target_accept": target_accept,
              "n_leapfrog": n_leapfrog, "path": path, "base": base, "base_mean": base_mean, "base_scale": base_scale,
              "schedule": schedule, "resample": resample, "ess_threshold": ess_threshold, "adaptive": adaptive,
              "target_cess": target_cess, "max_steps": max_steps}  # fmt: skip
        run = IslandRun(w, target, n, cfg.K, kw, ais)
    scale = 1.0 if opts.precondition != "none" else getattr(getattr(pth, "base", None), "scale", 1.0)

    def key(c: ResampleConfig | None) -> tuple:  # what a compiled run closes over (with the step count)
        return ("ais", adaptive, opts.kernel, opts.n_mcmc, opts.max_mcmc, opts.precondition, opts.n_leapfrog,
                opts.a_star, c, target_cess, max_steps, path_key)  # fmt: skip

    # one program per run (per set of islands) where the run has a fixed grid from the base and no progress bar
    whole = compiled and not adaptive and not opts.progress and x0 is None and pth.density.bound
    if cfg is not None and cfg.K > 1:
        seeds = task_seeds(gen, cfg.K)
        if whole and client is None:
            icfg = resample_config(cfg.method, n // cfg.K, 1, cfg.threshold)
            try:
                return run_islands_whole(run, pth, opts, cfg, gen, be, steps, key(icfg), scale, pilot, seeds)
            except Unfusable:
                pass  # island by island (the same seeds): the first island's run names the problem
        return run_islands(run, x0, be, gen, pilot, client=client, progress=opts.progress, seeds=seeds)
    step = make_step(pth, opts, cfg, gen, be, compiled)
    if whole:
        try:
            return run_whole_ais(step, pth, opts, cfg, gen, be, n, steps, key(cfg), scale, return_works, w, pilot,
                                 _island)  # fmt: skip
        except Unfusable:
            pass  # the step-by-step run below names the problem
    x = pth.sample0(n, gen) if x0 is None else x0
    parts, lp0, g0 = _first_evaluation(pth, x, be, compiled, path_key)
    carry = initial_carry(x, parts, lp0, g0, opts.initial_step_size(scale, x.shape[1]), cfg, be, compiled)
    if adaptive:
        carry, ys, k = run_adaptive(step, carry, pth, target_cess, max_steps, be, compiled, key(cfg), gen)
    else:
        carry, ys, k = run_fixed(step, carry, steps, be, compiled, key(cfg), opts, gen)
    return result(carry, ys, k, cfg, pth, opts, be, n, return_works, compiled, w, pilot, _island)


def _check_x0(where: str, x0: Any, pth: Any, be: Any) -> Any:
    """``x0`` as the initial walkers; on the geometric path its sample mean and mean variance must be those of the
    Gaussian base within 6 standard errors (draws from elsewhere would bias every weight silently)."""
    base = getattr(pth, "base", None)
    if base is None:
        return x0
    xp = be.xp
    n, d = x0.shape
    z = (x0 - base._m(x0, xp)) / base.scale
    mean_stat = float(xp.sum(xp.mean(z, axis=0) ** 2)) * n  # ~ chi2_d
    var = float(xp.mean(z * z))  # ~ 1 +- sqrt(2 / (n d))
    if mean_stat > d + 6 * math.sqrt(2 * d) or abs(var - 1.0) > 6 * math.sqrt(2.0 / (n * d)):
        raise ValueError(
            f"{where}: x0 does not look like draws from the base N(base_mean, base_scale^2 I) (mean chi^2 = "
            f"{mean_stat:.3g} for d = {d}, mean variance {var:.3g} of 1): the AIS/SMC weights assume x0 ~ base; "
            "omit x0, or give base_mean/base_scale matching it"
        )
    return x0


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
    if not pth.shapes_ok(parts, x.shape[0]) or bool(bad):
        pth.check(x, parts)
    return parts, lp0, g0


def _check_run(
    where: str, n: int, resample: str | None, ess_threshold: Any, islands: Any, target_cess: Any, return_works: Any
) -> ResampleConfig | None:
    """The run's checks that need no backend; returns the resampling configuration (None: AIS)."""
    if resample is not None:
        as_choice(f"{where}: resample (the resampling method)", resample, RESAMPLERS)
    ess_threshold = as_real(f"{where}: ess_threshold", ess_threshold, low=0.0, high=1.0, low_open=True)
    as_probability(f"{where}: target_cess", target_cess)
    if as_bool(f"{where}: return_works", return_works) and resample is not None:
        raise ValueError(
            f"{where}: return_works needs resample=None: works of resampled walkers are not Jarzynski works"
        )
    if islands is not None:
        islands = as_count(f"{where}: islands", islands, 1)
    if resample is None:
        if islands not in (None, 1):
            raise ValueError(f"{where}: islands = {islands!r} needs resampling (give resample=...)")
        return None
    return resample_config(resample, n, islands, ess_threshold)




_AIS_OPTIONS = frozenset(
    {
        "steps", "kernel", "n_mcmc", "max_mcmc", "precondition", "step_size", "adapt_step_size", "target_accept",
        "n_leapfrog", "path", "base", "base_mean", "base_scale", "schedule", "x0", "islands", "adaptive",
        "target_cess", "max_steps", "backend", "device", "dtype", "rng", "seed", "progress", "client",
    }
)  # fmt: skip


@declare(uses=("value_and_grad",), name="tk.sample(method='smc')")
def smc(target: Any, n: int, *, resample: str = "systematic", ess_threshold: float = 0.5, **kwargs: Any) -> Samples:
    """Sequential Monte Carlo: :func:`ais` with resampling (systematic by default) whenever ESS/n drops
    below ``ess_threshold``, adaptive moves and islands by default; the other options are :func:`ais`'s
    (``return_works`` excepted)."""
    check_options("smc()", kwargs, _AIS_OPTIONS)
    if resample is None:
        raise ValueError(f"smc(): resample must be one of {RESAMPLERS} (for no resampling call ais())")
    return ais(target, n, resample=resample, ess_threshold=ess_threshold, _where="smc()", **kwargs)
