r"""Annealed importance sampling (AIS) and sequential Monte Carlo (SMC) along a path of densities
(ALGORITHMS.md §5.1–5.2).

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

**SMC**: after the reweighting of step k, when ESS/n < ``ess_threshold``, resample (multinomial, systematic
or stratified), add :math:`\operatorname{logmeanexp}(A)` to a running :math:`\log\hat Z` and reset A = 0; the
final :math:`\log\hat Z` is the sum over epochs including the last one.

**Adaptive tempering**: the next :math:`t_k` is found by bisection so that the conditional ESS
:math:`\big(\sum_i W^i e^{\Delta^i}\big)^2/\sum_i W^i e^{2\Delta^i}` (W the normalized weights,
:math:`\Delta^i = \log\rho_{t_k}(x^i) - \log\rho_{t_{k-1}}(x^i)`) equals ``target_cess``.

**Standard error**: for one epoch :math:`\widehat{\mathrm{Var}}\log\hat Z \approx (n/\mathrm{ESS} - 1)/(n-1)`
(delta method on the mean of :math:`e^{A}`). With resampling and one population the epochs' variances are summed
(an approximation that ignores the correlations created by resampling and underestimates the spread); with
``islands = K`` (default: up to 10 islands of at least 100 walkers) the walkers form K independent SMC
populations and the standard error comes from the spread of their K estimates (consistent;
:mod:`transportkit.sampling.resampling`).
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from ..numerics import ess as _ess
from ..numerics import logmeanexp, logsumexp
from ..random import default_rng
from ._common import make_path, progress_range, samples
from .mcmc import KERNELS, TARGET_ACCEPT, adapt, kernel_step
from .resampling import RESAMPLERS, final_estimate, make_resampler, resample_indices

__all__ = ["RESAMPLERS", "ais", "resample_indices", "smc"]

def _next_t(path: Any, t: float, parts: tuple, A: Any, target_cess: float, xp: Any) -> float:
    lw = A - logsumexp(A, xp=xp)
    lp_t = path.log_prob(t, parts)

    def log_cess(s: float) -> float:
        d = path.log_prob(s, parts) - lp_t
        d = xp.where(xp.isnan(d), -math.inf, d)
        return float(2 * logsumexp(lw + d, xp=xp) - logsumexp(lw + 2 * d, xp=xp))

    goal = math.log(target_cess)
    if log_cess(1.0) >= goal:
        return 1.0
    lo, hi = t, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if log_cess(mid) >= goal:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-4 * (1.0 - t):
            break
    return max(lo, t + 1e-10)


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
) -> Any:
    r"""AIS (``resample=None``) or SMC (``resample`` in ``("multinomial", "systematic", "stratified")``) from
    the base to ``target`` in ``steps`` annealing steps (a uniform grid, or adaptive with ``adaptive=True``,
    where ``steps`` is ignored and at most ``max_steps`` are taken); see the module docstring for the math.

    Parameters
    ----------
    target
        object with ``log_prob`` and ``grad_log_prob`` (batched over rows), or a pair of callables.
    n
        number of walkers.
    kernel, n_mcmc, step_size, target_accept, n_leapfrog
        the MCMC moves after each reweighting.
    resample, ess_threshold, islands
        SMC resampling method (``None``: AIS), the ESS/n below which a population resamples, and the number
        of independent populations (n/islands walkers each) whose spread gives the standard error (default
        :func:`~transportkit.sampling.resampling.auto_islands`: up to 10 of at least 100 walkers).
    path
        a custom path (see :class:`~transportkit.sampling._common.CustomPath`, or
        :class:`~transportkit.sampling.InterpolantPath`); else geometric from
        ``base`` (default :math:`\mathcal N(\text{base\_mean}, \text{base\_scale}^2 I)`) with ``schedule =
        (lam, dlam)`` (default λ(t) = t).
    return_works
        put the per-walker works :math:`W^i = -A^i` (so that
        :math:`\Delta F = -\log(Z_1/Z_0) = -\log\frac1n\sum_i e^{-W^i}`) in ``info["works"]``; AIS only.

    Returns
    -------
    :class:`~transportkit.sampling.Samples` with ``x`` (n, d), ``log_weights`` (shifted so that
    ``logmeanexp(log_weights) == log_Z``), ``log_Z``, ``log_Z_stderr``, ``ess`` (Kish ESS of the final
    weights, between 1 and n) and ``info`` (``times``, ``ess_trace``, ``acceptance``, ``step_size``,
    ``n_resample``, ``ess_relative``; with resampling ``islands``, and ``log_Z_epochs`` (one island) or
    ``log_Z_islands`` (several)).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n}")
    if not adaptive and (int(steps) != steps or steps < 1):
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if resample is not None and resample not in RESAMPLERS:
        raise ValueError(f"unknown resampling method {resample!r}; choose one of {RESAMPLERS} or None")
    if not 0 < ess_threshold <= 1:
        raise ValueError(f"ess_threshold must be in (0, 1], got {ess_threshold}")
    if not 0 < target_cess < 1:
        raise ValueError(f"target_cess must be in (0, 1), got {target_cess}")
    if n_mcmc < 0:
        raise ValueError(f"n_mcmc must be >= 0, got {n_mcmc}")
    if return_works and resample is not None:
        raise ValueError("return_works needs resample=None: works of resampled walkers are not Jarzynski works")
    be = resolve_backend(backend=backend, device=device, dtype=dtype)
    xp = be.xp
    gen = default_rng(seed, be)
    pth = make_path(target, be, path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule)
    x = pth.sample0(n, gen)
    parts = pth.evaluate(x)
    pth.check(x, parts)  # NaN/+inf log_prob or a bad gradient: ValueError naming the walker, before any work
    d = x.shape[1]
    scale = getattr(getattr(pth, "base", None), "scale", 1.0)
    h = (
        float(step_size)
        if step_size is not None
        else {"rwm": 2.38 * scale / math.sqrt(d), "hmc": 0.3 * scale * d ** (-0.25)}.get(
            kernel, 0.5 * scale**2 * d ** (-1 / 3)
        )
    )
    a_star = TARGET_ACCEPT[kernel] if target_accept is None else float(target_accept)

    A = xp.zeros((n,), dtype=x.dtype, device=be.device)
    rs = make_resampler(resample, n, islands, ess_threshold, gen, xp, A.dtype, be.device)
    times, ess_trace, acc_trace, h_trace = [0.0], [], [], []
    t_prev = 0.0
    k = 0
    it = iter(progress_range(steps, progress and not adaptive, "smc" if resample else "ais"))
    while t_prev < 1.0:
        k += 1
        if adaptive:
            if k > max_steps:
                raise RuntimeError(f"adaptive tempering did not reach t = 1 in {max_steps} steps (t = {t_prev})")
            t = _next_t(pth, t_prev, parts, A, target_cess, xp)
        else:
            next(it)
            t = 1.0 if k == steps else k / steps
        inc = pth.log_prob(t, parts) - pth.log_prob(t_prev, parts)
        A = A + xp.where(xp.isnan(inc), -math.inf, inc)
        ess_trace.append(float(_ess(A if rs is None else rs.log_weights(A), xp=xp)) / n)
        if rs is not None and t < 1.0:
            A, x, parts = rs.step(A, x, parts)
        if n_mcmc:
            lp, g = pth.log_prob(t, parts), pth.grad(t, parts)

            def fn(y: Any, t: float = t) -> tuple[Any, Any, tuple]:
                p = pth.evaluate(y)
                return pth.log_prob(t, p), pth.grad(t, p), p

            for _ in range(n_mcmc):
                x, lp, g, parts, acc = kernel_step(kernel, x, lp, g, parts, fn, h, gen, xp, n_leapfrog)
                a = float(xp.mean(acc))
                acc_trace.append(a)
                h_trace.append(h)
                if adapt_step_size:
                    h = adapt(h, a, a_star)
        times.append(t)
        t_prev = t
    if bool(xp.any(xp.isnan(A))):
        i = int(xp.argmax(xp.astype(xp.isnan(A), xp.int32)))
        raise ValueError(f"a log-weight became NaN (walker {i}): the target's log_prob returned NaN during the run")
    lz, var, log_w, lz_k = final_estimate(rs, A, xp)
    log_Z = lz + pth.log_Z0
    info = {
        "times": times,
        "ess_trace": ess_trace,
        "acceptance": sum(acc_trace) / len(acc_trace) if acc_trace else None,
        "acceptance_trace": acc_trace,
        "step_size": h,
        "step_size_trace": h_trace,
        "n_resample": 0 if rs is None else rs.events,
        "steps": k,
        "kernel": kernel,
        "ess_relative": float(_ess(log_w, xp=xp)) / n,
        "target_evaluations": n * (1 + k * n_mcmc * (n_leapfrog if kernel == "hmc" else 1)),
    }
    if rs is not None:
        info["log_Z_epochs"] = [*rs.epochs, float(logmeanexp(A, xp=xp))] if rs.K == 1 else None
        info["islands"] = rs.K
        info["log_Z_islands"] = None if rs.K == 1 else [v + pth.log_Z0 for v in be.to_numpy(lz_k).tolist()]
    if return_works:
        info["works"] = -A
    return samples(
        x=x,
        log_weights=log_w + pth.log_Z0,
        log_Z=log_Z,
        log_Z_stderr=math.sqrt(var),
        ess=float(_ess(log_w, xp=xp)),
        info=info,
        backend=be,
    )


@declare(uses=("value_and_grad",), name="tk.sample(method='smc')")
def smc(target: Any, n: int, *, resample: str = "systematic", ess_threshold: float = 0.5, **kwargs: Any) -> Any:
    """Sequential Monte Carlo: :func:`ais` with resampling (systematic by default) whenever ESS/n drops
    below ``ess_threshold``."""
    return ais(target, n, resample=resample, ess_threshold=ess_threshold, **kwargs)
