r"""Free-energy estimators: Jarzynski/Zwanzig (EXP), Bennett (BAR), multistate (MBAR), escorted Jarzynski.

Units are :math:`k_BT = 1`; :math:`\Delta F = F_1 - F_0 = -\log(Z_1/Z_0)`. Forward works :math:`W_F` come from
the process :math:`0 \to 1`, reverse works :math:`W_R` from :math:`1 \to 0`. Every average of exponentials is
computed in log space, so works of any magnitude (:math:`10^4` and beyond) neither overflow nor give NaN.

All functions take arrays of any Array-API backend (NumPy in, NumPy out) and return
:class:`FreeEnergyEstimate` objects (subclasses of :class:`transportkit.Estimate`) with ``value``, ``stderr``
and a ``diagnostics`` dict (effective sample sizes, overlap, iteration counts, ...).

``exp`` and ``bar`` also accept batches: works of shape ``(..., n)`` give estimates of shape ``(...)``
(one independent estimate per leading index), which is how bootstrap resamples are evaluated.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

from ._backend import Backend, resolve_backend
from ._capabilities import declare
from ._results import Estimate, Result
from .numerics import logsumexp
from .random import default_rng

__all__ = [
    "FreeEnergyEstimate",
    "FreeEnergyWarning",
    "WorkBounds",
    "bar",
    "bar_overlap",
    "bounds",
    "demo",
    "escorted_jarzynski",
    "exp",
    "exp_gauss",
    "flow_works",
    "from_samples",
    "mbar",
    "works_from_samples",
]

#: default threshold of the Kish effective sample size below which a FreeEnergyWarning is issued
ESS_WARNING = 10.0


class FreeEnergyWarning(UserWarning):
    """The estimate is dominated by a few samples (small effective sample size or overlap), or a solver
    stopped before its tolerance: the value and its standard error are not reliable."""


@dataclasses.dataclass
class FreeEnergyEstimate(Estimate):
    """:class:`transportkit.Estimate` plus ``diagnostics`` (a dict of arrays and numbers)."""

    diagnostics: dict = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass
class WorkBounds(Result):
    r"""Variational bounds :math:`-\mathbb{E}[W_R] \le \Delta F \le \mathbb{E}[W_F]`, with standard errors."""

    lower: Any
    lower_stderr: Any
    upper: Any
    upper_stderr: Any


# ----------------------------------------------------------------------------------------------- helpers
_COMPILED: dict[tuple, Callable] = {}


def _fast(be: Backend, fn: Callable, **static: Any) -> Callable:
    """``fn`` with ``xp`` (and other static keywords) bound, compiled once per backend where it can be (JAX)."""
    key = (be.name, str(be.device), fn, tuple(sorted(static.items())))
    out = _COMPILED.get(key)
    if out is None:
        out = be.maybe_jit(functools.partial(fn, xp=be.xp, **static))
        _COMPILED[key] = out
    return out


def _softplus(x: Any, xp: Any) -> Any:
    """log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}), exact at any magnitude."""
    return (x + xp.abs(x)) / 2 + xp.log1p(xp.exp(-xp.abs(x)))


def _lse12(a: Any, xp: Any) -> tuple[Any, Any]:
    """(logsumexp(a), logsumexp(2a)) over the last axis with one exponential per entry (finite ``a``)."""
    m = xp.max(a, axis=-1, keepdims=True)
    e = xp.exp(a - m)
    m = m[..., 0]
    return xp.log(xp.sum(e, axis=-1)) + m, xp.log(xp.sum(e * e, axis=-1)) + 2 * m


def _first_bad_index(bad: Any, xp: Any) -> tuple[int, ...]:
    flat = xp.reshape(bad, (-1,))
    i = int(xp.argmax(xp.astype(flat, xp.int32)))
    idx = []
    for s in reversed(bad.shape):
        idx.append(i % s)
        i //= s
    return tuple(reversed(idx))


def _prepare(w: Any, be: Backend, name: str, nan_policy: str) -> Any:
    """Validate works: floating array of shape (..., n), n >= 1, finite (or non-finite omitted for 1-D)."""
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    xp = be.xp
    w = be.asarray(w, be.dtype)
    if w.ndim == 0:
        raise ValueError(f"{name} must be an array of works, got a scalar")
    if w.shape[-1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(w.shape)}): need at least one work value")
    bad = ~xp.isfinite(w)
    if bool(xp.any(bad)):
        idx = _first_bad_index(bad, xp)
        where = idx[0] if len(idx) == 1 else idx
        value = float(be.to_numpy(w[idx]))
        if nan_policy == "raise":
            raise ValueError(
                f"{name} has a non-finite work at index {where} (value {value}); "
                "pass nan_policy='omit' to drop non-finite works"
            )
        if w.ndim != 1:
            raise ValueError(f"nan_policy='omit' needs 1-D works; {name} has shape {tuple(w.shape)}")
        w = w[~bad]
        if w.shape[0] == 0:
            raise ValueError(f"{name} has no finite works left after nan_policy='omit'")
    return w


def _check_ess(ess: Any, n: int, threshold: float, what: str) -> None:
    """Warn (FreeEnergyWarning) when the smallest effective sample size is below min(threshold, n/2)."""
    if threshold <= 0:
        return
    from array_api_compat import array_namespace

    xp = array_namespace(ess)
    smallest = float(xp.min(ess)) if ess.ndim else float(ess)
    if smallest < min(threshold, n / 2):
        warnings.warn(
            f"{what}: the estimate is dominated by a few samples (effective sample size {smallest:.3g} of "
            f"{n}); the value and its standard error are unreliable",
            FreeEnergyWarning,
            stacklevel=3,
        )


def _kish(log_w: Any, *, xp: Any) -> Any:
    """Kish ESS (sum w)^2 / sum w^2 from log-weights over the last axis."""
    l1, l2 = _lse12(log_w, xp)
    return xp.exp(2 * l1 - l2)


def _std_over_first(values: Any, xp: Any) -> Any:
    return xp.std(values, axis=0, correction=1)


def _bootstrap_1d(stat: Callable[[Any], Any], arrays: list[Any], n_boot: int, seed: Any, be: Backend) -> Any:
    """Standard deviation over ``n_boot`` resamples (with replacement, independently per array) of
    ``stat(*resampled)``, evaluated in vectorized chunks of at most ~4e6 entries."""
    xp = be.xp
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 2:
        raise ValueError(f"bootstrap must be an integer >= 2 (number of resamples), got {n_boot!r}")
    for a in arrays:
        if a.ndim != 1:
            raise ValueError(f"bootstrap needs 1-D works, got shape {tuple(a.shape)}")
    gen = default_rng(seed, be)
    total = sum(a.shape[0] for a in arrays)
    chunk = max(1, (1 << 22) // total)
    out = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        res = []
        for a in arrays:
            n = a.shape[0]
            idx = gen.integers(0, n, (b * n,))
            res.append(xp.reshape(xp.take(a, idx, axis=0), (b, n)))
        out.append(stat(*res))
        done += b
    return _std_over_first(xp.concat(out, axis=0), xp)


# ----------------------------------------------------------------------------------------------- EXP
def _exp_core(w: Any, *, xp: Any) -> tuple[Any, Any, Any]:
    """Batched EXP over the last axis: (value, stderr, ess)."""
    n = w.shape[-1]
    l1, l2 = _lse12(-w, xp)
    value = -(l1 - math.log(n))
    # pymbar: x = exp(-w - max(-w)), stderr = std(x) / (sqrt(n) mean(x)), std with ddof = 0.
    # std(x)^2 / mean(x)^2 = n sum x^2 / (sum x)^2 - 1 = n exp(l2 - 2 l1) - 1.
    rel_var = xp.exp(l2 - 2 * l1 + math.log(n)) - 1.0
    rel_var = xp.where(rel_var > 0, rel_var, xp.zeros_like(rel_var))
    stderr = xp.sqrt(rel_var / n)
    return value, stderr, xp.exp(2 * l1 - l2)


@declare()
def exp(
    w: Any,
    *,
    direction: str = "forward",
    nan_policy: str = "raise",
    bootstrap: int | None = None,
    seed: Any = None,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
) -> FreeEnergyEstimate:
    r"""Zwanzig / Jarzynski exponential averaging (EXP).

    .. math:: \widehat{\Delta F} = -\log \frac1n \sum_{i=1}^n e^{-W_i}
              = -\Big(\operatorname{logsumexp}_i(-W_i) - \log n\Big),

    with the delta-method standard error of pymbar, :math:`x_i = e^{-W_i - \max_j(-W_j)}`,
    :math:`\delta\widehat{\Delta F} = \operatorname{std}(x) / (\sqrt n\, \bar x)` (``std`` with ``ddof = 0``),
    evaluated as :math:`\sqrt{(n \sum x^2 / (\sum x)^2 - 1)/n}` in log space.

    Parameters
    ----------
    w
        works, shape ``(n,)`` or ``(..., n)`` (one estimate per leading index).
    direction
        ``"forward"`` (default): ``w`` are forward works and the result estimates
        :math:`\Delta F`; ``"reverse"``: ``w`` are reverse works, the EXP estimate of
        :math:`-\Delta F` is negated so the result again estimates :math:`\Delta F = F_1 - F_0`.
        (pymbar's ``exp(w_R)`` returns :math:`-\Delta F`.)
    nan_policy
        ``"raise"`` (``ValueError`` naming the index of the first non-finite work) or ``"omit"``
        (drop non-finite works; 1-D input only).
    bootstrap
        number of bootstrap resamples; the ``stderr`` is then their standard deviation (the
        asymptotic one stays in ``diagnostics["stderr_asymptotic"]``).
    seed
        seed or :class:`transportkit.random.Generator` for the bootstrap.
    ess_warning
        warn (:class:`FreeEnergyWarning`) when the Kish effective sample size of the weights
        :math:`e^{-W_i}` is below ``min(ess_warning, n/2)``; 0 disables.

    Returns
    -------
    FreeEnergyEstimate with ``diagnostics = {"ess", "n", "stderr_asymptotic"}``.
    """
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")
    be = resolve_backend(w, backend=backend)
    w = _prepare(w, be, "w", nan_policy)
    n = w.shape[-1]
    core = _fast(be, _exp_core)
    value, stderr, ess = core(w)
    _check_ess(ess, n, ess_warning, "exp")
    diagnostics = {"ess": ess, "n": n, "stderr_asymptotic": stderr}
    if bootstrap is not None:
        stderr = _bootstrap_1d(lambda a: core(a)[0], [w], bootstrap, seed, be)
    if direction == "reverse":
        value = -value
    return FreeEnergyEstimate(value, stderr, diagnostics=diagnostics, backend=be)


def exp_gauss(w: Any, *, direction: str = "forward", nan_policy: str = "raise", backend: Any = None):
    r"""Gaussian approximation of EXP (second cumulant): :math:`\widehat{\Delta F} = \bar W - s^2/2`,
    :math:`s^2` the (``ddof = 0``) variance, with pymbar's error :math:`\sqrt{s^2/n + s^4/(2(n-1))}`.
    Exact for Gaussian works; biased otherwise. ``direction="reverse"`` negates as in :func:`exp`."""
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")
    be = resolve_backend(w, backend=backend)
    xp = be.xp
    w = _prepare(w, be, "w", nan_policy)
    n = w.shape[-1]
    if n < 2:
        raise ValueError("exp_gauss needs at least two works")
    var = xp.var(w, axis=-1)
    value = xp.mean(w, axis=-1) - var / 2
    stderr = xp.sqrt(var / n + 0.5 * var * var / (n - 1))
    if direction == "reverse":
        value = -value
    return FreeEnergyEstimate(value, stderr, diagnostics={"n": n}, backend=be)


# ----------------------------------------------------------------------------------------------- BAR
def _bar_terms(wf: Any, wr: Any, M: Any, D: Any, *, xp: Any):
    """Log-space pieces of the BAR equation at ΔF = D (batched over leading axes).

    With f(x) = 1/(1+e^x): a_i = M + W_F,i - D, b_j = -M + W_R,j + D; returns
    (lse log f(a), lse 2 log f(a), lse log f(b), lse 2 log f(b)).
    """
    a = M[..., None] + wf - D[..., None]
    b = wr - M[..., None] + D[..., None]
    f1, f2 = _lse12(-_softplus(a, xp), xp)
    r1, r2 = _lse12(-_softplus(b, xp), xp)
    return f1, f2, r1, r2


def _bar_h(wf: Any, wr: Any, M: Any, D: Any, *, xp: Any):
    """h(D) = log sum_F f(a) - log sum_R f(b) (increasing in D) and h'(D) =
    (1 - sum f(a)^2 / sum f(a)) + (1 - sum f(b)^2 / sum f(b))."""
    f1, f2, r1, r2 = _bar_terms(wf, wr, M, D, xp=xp)
    h = f1 - r1
    dh = (1.0 - xp.exp(f2 - f1)) + (1.0 - xp.exp(r2 - r1))
    return h, dh


def _bar_start(wf: Any, wr: Any, *, xp: Any):
    """M = log(n_F/n_R) and the initial bracket [lo, hi] between the two EXP estimates, with h there."""
    nF, nR = wf.shape[-1], wr.shape[-1]
    upper = -(logsumexp(-wf, axis=-1, xp=xp) - math.log(nF))  # EXP forward
    lower = logsumexp(-wr, axis=-1, xp=xp) - math.log(nR)  # -EXP reverse
    M = upper * 0.0 + math.log(nF / nR)
    lo, hi = xp.minimum(lower, upper), xp.maximum(lower, upper)
    return M, lo, hi, _bar_h(wf, wr, M, lo, xp=xp)[0], _bar_h(wf, wr, M, hi, xp=xp)[0]


def _bar_widen(wf: Any, wr: Any, M: Any, lo: Any, hi: Any, h_lo: Any, h_hi: Any, *, xp: Any):
    """Move the bracket ends outward (by its width + 1, so the width doubles) where they do not bracket."""
    bad_lo, bad_hi = h_lo > 0, h_hi < 0
    width = hi - lo + 1.0
    lo = xp.where(bad_lo, lo - width, lo)
    hi = xp.where(bad_hi, hi + width, hi)
    h_lo = xp.where(bad_lo, _bar_h(wf, wr, M, lo, xp=xp)[0], h_lo)
    h_hi = xp.where(bad_hi, _bar_h(wf, wr, M, hi, xp=xp)[0], h_hi)
    return lo, hi, h_lo, h_hi, xp.any((h_lo > 0) | (h_hi < 0))


def _bar_first(lo: Any, hi: Any, h_lo: Any, h_hi: Any, *, xp: Any):
    """Start from the false-position point of the bracket."""
    denom = h_hi - h_lo
    safe = denom > 0
    D = xp.where(safe, lo - h_lo * (hi - lo) / xp.where(safe, denom, xp.ones_like(denom)), (lo + hi) / 2)
    D = xp.where((D > lo) & (D < hi), D, (lo + hi) / 2)
    return xp.where(h_lo == 0, lo, xp.where(h_hi == 0, hi, D))


def _bar_update(D: Any, h: Any, dh: Any, lo: Any, hi: Any, prev_abs: Any, converged: Any, *, xp: Any, rtol: float):
    """One safeguarded Newton step: shrink the bracket with h(D), take the Newton point if it lies inside
    the bracket and |h| halved since the last step, else bisect; mark converged entries."""
    lo = xp.where(h < 0, D, lo)
    hi = xp.where(h > 0, D, hi)
    ok_dh = dh > 0
    newton = xp.where(ok_dh, D - h / xp.where(ok_dh, dh, xp.ones_like(dh)), xp.full_like(D, math.nan))
    slow = xp.abs(h) > 0.5 * prev_abs  # |h| did not halve: bisect instead
    use_newton = (newton > lo) & (newton < hi) & xp.isfinite(newton) & ~slow
    cand = xp.where(use_newton, newton, (lo + hi) / 2)
    tol = rtol * (1.0 + xp.abs(D))
    tiny_step = xp.isfinite(newton) & (xp.abs(newton - D) <= tol)  # Newton has converged
    cand = xp.where(tiny_step, newton, cand)
    done_now = tiny_step | ((hi - lo) <= tol)
    D = xp.where(converged | (h == 0), D, cand)
    converged = converged | done_now | (h == 0)
    return D, lo, hi, xp.abs(h), converged, xp.all(converged)


def _bar_solve(wf: Any, wr: Any, be: Backend, *, rtol: float = 1e-14, maxiter: int = 200):
    """Safeguarded Newton/bisection for the BAR root, vectorized over leading (batch) axes."""
    xp = be.xp
    bar_h, widen, update = _fast(be, _bar_h), _fast(be, _bar_widen), _fast(be, _bar_update, rtol=rtol)
    M, lo, hi, h_lo, h_hi = _fast(be, _bar_start)(wf, wr)
    evals = 2
    if bool(xp.any((h_lo > 0) | (h_hi < 0))):
        for _ in range(2000):  # widen until [lo, hi] brackets the root (h -> -inf/+inf linearly at -inf/+inf)
            lo, hi, h_lo, h_hi, any_bad = widen(wf, wr, M, lo, hi, h_lo, h_hi)
            evals += 2
            if not bool(any_bad):
                break
        else:
            raise RuntimeError("bar: could not bracket the root")  # pragma: no cover
    D = _fast(be, _bar_first)(lo, hi, h_lo, h_hi)
    h, dh = bar_h(wf, wr, M, D)
    evals += 1
    converged = h == 0
    prev_abs = xp.full_like(h, math.inf)
    n_iter = 0
    for n_iter in range(1, maxiter + 1):  # noqa: B007
        D, lo, hi, prev_abs, converged, all_done = update(D, h, dh, lo, hi, prev_abs, converged)
        if bool(all_done):
            break
        h_new, dh_new = bar_h(wf, wr, M, D)
        evals += 1
        h = xp.where(converged, h, h_new)
        dh = xp.where(converged, dh, dh_new)
    else:
        warnings.warn(f"bar: not converged after {maxiter} iterations", FreeEnergyWarning, stacklevel=3)
    return D, M, n_iter, evals


def _bar_stats(wf: Any, wr: Any, M: Any, D: Any, *, xp: Any, method: str):
    """Variance of BAR (pymbar's formulas), ESS of the Fermi weights, and MBAR overlap, batched."""
    nF, nR = wf.shape[-1], wr.shape[-1]
    f1, f2, r1, r2 = _bar_terms(wf, wr, M, D, xp=xp)
    if method == "BAR":
        # <f_F^2>/(n_F <f_F>^2) + <f_R^2>/(n_R <f_R>^2) - (n_F + n_R)/(n_F n_R)
        var = xp.exp(f2 - 2 * f1) + xp.exp(r2 - 2 * r1) - (1.0 / nF + 1.0 / nR)
    else:  # "MBAR"
        vt = (xp.exp(f1) - xp.exp(f2)) + (xp.exp(r1) - xp.exp(r2))
        pos = vt > 0
        var = xp.where(pos, 1.0 / xp.where(pos, vt, xp.ones_like(vt)), xp.full_like(vt, math.inf))
        var = var - (1.0 / nF + 1.0 / nR)
    var = xp.where(var > 0, var, xp.zeros_like(var))
    ess_f = xp.exp(2 * f1 - f2)  # Kish ESS of the Fermi weights f(M + W_F - ΔF) of forward samples
    ess_r = xp.exp(2 * r1 - r2)
    # MBAR overlap of the two states (1 - second eigenvalue of the 2x2 overlap matrix):
    # O_01 + O_10 = (n_F + n_R) sum_n W_n0 W_n1, W_nk = e^{f_k - u_kn} / sum_j N_j e^{f_j - u_jn}.
    # forward sample (u0 = 0, u1 = W_F): W_n0 W_n1 = e^{ΔF - W} / (n_F + n_R e^{ΔF - W})^2, reverse similar.
    lF, lR = math.log(nF), math.log(nR)
    xf = D[..., None] - wf
    xr = -D[..., None] - wr  # reverse sample: u0 = W_R, u1 = 0: e^{ΔF - W_R}/(n_F e^{-W_R} + n_R e^{ΔF})^2
    ldf = _logaddexp(xp.zeros_like(xf) + lF, xf + lR, xp)
    ldr = _logaddexp(xr + (lF + 0.0), xp.zeros_like(xr) + lR, xp)
    # reverse term: e^{D - W_R - 2 log(n_F e^{-W_R} + n_R e^{D})}; divide num and den by e^{2D}
    tf = logsumexp(xf - 2 * ldf, axis=-1, xp=xp)
    tr = logsumexp(xr - 2 * ldr, axis=-1, xp=xp)
    overlap = (nF + nR) * xp.exp(_logaddexp(tf, tr, xp))
    return xp.sqrt(var), ess_f, ess_r, overlap


def _logaddexp(a: Any, b: Any, xp: Any) -> Any:
    m = xp.maximum(a, b)
    return m + xp.log1p(xp.exp(-xp.abs(a - b)))


@declare()
def bar(
    w_forward: Any,
    w_reverse: Any,
    *,
    uncertainty_method: str = "BAR",
    nan_policy: str = "raise",
    bootstrap: int | None = None,
    seed: Any = None,
    rtol: float = 1e-14,
    maxiter: int = 200,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
) -> FreeEnergyEstimate:
    r"""Bennett acceptance ratio: the minimum-variance estimate of :math:`\Delta F` from works in both
    directions.

    With :math:`M = \log(n_F/n_R)` and the Fermi function :math:`f(x) = 1/(1+e^x)`, :math:`\Delta F` solves

    .. math:: \sum_{i \in F} f(M + W_{F,i} - \Delta F) = \sum_{j \in R} f(-M + W_{R,j} + \Delta F).

    Both sides are evaluated in log space (:math:`\log f(x) = -\operatorname{softplus}(x)`,
    log-sum-exp), and the increasing function :math:`h(\Delta F) = \log\sum_F f - \log\sum_R f` is solved by
    a safeguarded Newton iteration: Newton steps (:math:`h' = 2 - \sum_F f^2/\sum_F f - \sum_R f^2/\sum_R f`)
    inside a bracket started at the two EXP estimates and widened until it brackets the root, with bisection
    whenever the Newton step leaves the bracket or :math:`|h|` fails to halve. It converges for overlaps
    down to :math:`10^{-12}` and works of magnitude :math:`10^4`.

    Standard error (pymbar, ``uncertainty_method="BAR"``, Bennett's formula), with
    :math:`C = M - \Delta F`, :math:`f_F = f(W_F + C)`, :math:`f_R = f(W_R - C)`:

    .. math:: \sigma^2 = \frac{\langle f_F^2\rangle}{n_F\langle f_F\rangle^2}
              + \frac{\langle f_R^2\rangle}{n_R\langle f_R\rangle^2} - \frac{n_F + n_R}{n_F n_R};

    ``"MBAR"``: :math:`\sigma^2 = 1/(n_F(\langle f_F\rangle - \langle f_F^2\rangle)
    + n_R(\langle f_R\rangle - \langle f_R^2\rangle)) - (n_F + n_R)/(n_F n_R)` (equals MBAR's for two states).
    A (round-off) negative variance is reported as 0.

    Works may be batched: shapes ``(..., n_F)`` and ``(..., n_R)`` with equal leading shapes.

    Returns
    -------
    FreeEnergyEstimate with ``diagnostics``: ``overlap`` (MBAR overlap scalar of the two states, in [0, 1]),
    ``ess_forward``/``ess_reverse`` (Kish ESS of the EXP weights :math:`e^{-W}`), ``ess_bar_forward``/
    ``ess_bar_reverse`` (Kish ESS of the Fermi weights that make up the two sums of the BAR equation — a
    :class:`FreeEnergyWarning` is issued when either is below ``min(ess_warning, n/2)``), ``n_iterations``,
    ``stderr_asymptotic``.
    """
    if uncertainty_method not in ("BAR", "MBAR"):
        raise ValueError(f"uncertainty_method must be 'BAR' or 'MBAR', got {uncertainty_method!r}")
    be = resolve_backend(w_forward, w_reverse, backend=backend)
    wf = _prepare(w_forward, be, "w_forward", nan_policy)
    wr = _prepare(w_reverse, be, "w_reverse", nan_policy)
    if wf.shape[:-1] != wr.shape[:-1]:
        raise ValueError(
            f"w_forward and w_reverse need the same leading (batch) shape, got {tuple(wf.shape)} and {tuple(wr.shape)}"
        )
    D, M, n_iter, _ = _bar_solve(wf, wr, be, rtol=rtol, maxiter=maxiter)
    stderr, ess_f, ess_r, overlap = _fast(be, _bar_stats, method=uncertainty_method)(wf, wr, M, D)
    nF, nR = wf.shape[-1], wr.shape[-1]
    kish = _fast(be, _kish)
    _check_ess(ess_f, nF, ess_warning, "bar (forward works)")
    _check_ess(ess_r, nR, ess_warning, "bar (reverse works)")
    diagnostics = {
        "overlap": overlap,
        "ess_forward": kish(-wf),
        "ess_reverse": kish(-wr),
        "ess_bar_forward": ess_f,
        "ess_bar_reverse": ess_r,
        "n_iterations": n_iter,
        "stderr_asymptotic": stderr,
    }
    if bootstrap is not None:

        def stat(a, b):
            d, _, _, _ = _bar_solve(a, b, be, rtol=rtol, maxiter=maxiter)
            return d

        stderr = _bootstrap_1d(stat, [wf, wr], bootstrap, seed, be)
    return FreeEnergyEstimate(D, stderr, diagnostics=diagnostics, backend=be)


def bar_overlap(w_forward: Any, w_reverse: Any, *, backend: Any = None) -> Any:
    """The MBAR overlap scalar of the two end states (pymbar's ``bar_overlap``): 0 none, 1 complete."""
    return bar(w_forward, w_reverse, ess_warning=0.0, backend=backend).diagnostics["overlap"]


@declare()
def bounds(w_forward: Any, w_reverse: Any | None = None, *, nan_policy: str = "raise", backend: Any = None):
    r"""Variational (Jensen) bounds :math:`-\mathbb{E}[W_R] \le \Delta F \le \mathbb{E}[W_F]` with the standard
    errors of the means (``std/sqrt(n)``, ``ddof = 1``). Without reverse works the lower bound is ``-inf``."""
    be = resolve_backend(w_forward, w_reverse, backend=backend)
    xp = be.xp
    wf = _prepare(w_forward, be, "w_forward", nan_policy)

    def mean_se(w):
        n = w.shape[-1]
        se = xp.std(w, axis=-1, correction=1) / math.sqrt(n) if n > 1 else xp.zeros_like(w[..., 0]) + math.inf
        return xp.mean(w, axis=-1), se

    up, up_se = mean_se(wf)
    if w_reverse is None:
        lo, lo_se = up * 0 - math.inf, up * 0
    else:
        wr = _prepare(w_reverse, be, "w_reverse", nan_policy)
        m, lo_se = mean_se(wr)
        lo = -m
    return WorkBounds(lo, lo_se, up, up_se, backend=be)


# ----------------------------------------------------------------------------------------------- MBAR
def _mbar_evaluate(u: Any, logN: Any, NK: Any, f: Any, *, xp: Any):
    """log-denominators ld_n = logsumexp_k(log N_k + f_k - u_kn) and the convex objective
    L(f) = sum_n ld_n - sum_k N_k f_k."""
    ld = logsumexp(logN[:, None] + f[:, None] - u, axis=0, xp=xp)
    return ld, xp.sum(ld) - xp.sum(NK * f)


def _mbar_newton_system(u: Any, NK: Any, f: Any, ld: Any, eye: Any, *, xp: Any):
    """log column sums of the normalized weights, max |colsum - 1|, gradient N_k (colsum_k - 1) and Hessian
    diag(N_k colsum_k) - (N W)(N W)^T of the MBAR objective."""
    logW = f[:, None] - u - ld[None, :]
    log_colsum = logsumexp(logW, axis=1, xp=xp)
    colsum = xp.exp(log_colsum)
    NW = NK[:, None] * xp.exp(logW)
    H = eye * (NK * colsum)[None, :] - NW @ xp.matrix_transpose(NW)
    return log_colsum, xp.max(xp.abs(colsum - 1.0)), NK * (colsum - 1.0), H


def _mbar_solve(u: Any, NK: Any, f0: Any, be: Backend, *, tol: float, maxiter: int):
    """Minimize L(f) (gauge f_0 = 0) by Newton's method with backtracking line search, falling back to a
    self-consistent iteration step when the line search fails. Returns (f, ld, iterations, converged)."""
    xp = be.xp
    evaluate = _fast(be, _mbar_evaluate)
    newton_system = _fast(be, _mbar_newton_system)
    K = u.shape[0]
    logN = xp.log(NK)
    eye = xp.eye(K, dtype=u.dtype, device=be.device)
    f = f0
    ld, L = evaluate(u, logN, NK, f)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):  # noqa: B007
        log_colsum, err, g, H = newton_system(u, NK, f, ld, eye)
        if float(err) < tol:
            converged = True
            break
        if K == 1:
            f = f - log_colsum
            ld, L = evaluate(u, logN, NK, f)
            continue
        step = None
        try:
            s = xp.linalg.solve(H[1:, 1:], -g[1:, None])[:, 0]
            if bool(xp.all(xp.isfinite(s))):
                step = xp.concat([xp.zeros((1,), dtype=u.dtype, device=u.device), s])
        except Exception:  # singular reduced Hessian (disconnected states): fall back to SCI
            step = None
        accepted = False
        if step is not None:
            slope = float(xp.sum(g * step))
            t = 1.0
            for _ in range(40):
                f_new = f + t * step
                ld_new, L_new = evaluate(u, logN, NK, f_new)
                Ln, Lo = float(L_new), float(L)
                if math.isfinite(Ln) and Ln <= Lo + 1e-4 * t * slope + 1e-13 * (abs(Lo) + 1.0):
                    accepted = True
                    break
                t /= 2
        if not accepted:  # self-consistent iteration: f_k <- -log sum_n e^{-u_kn} / sum_j N_j e^{f_j - u_jn}
            f_new = f - log_colsum
            ld_new, L_new = evaluate(u, logN, NK, f_new)
        f_prev = f
        f = f_new - f_new[0]
        ld = ld_new - f_new[0]
        L = L_new
        # converged to round-off (reduced energies of magnitude |u| limit |colsum - 1| to ~|u| eps)
        if accepted and float(xp.max(xp.abs(f - f_prev))) <= 1e-13 * (1.0 + float(xp.max(xp.abs(f)))):
            converged = True
            break
    return f, ld, it, converged


@declare()
def mbar(
    u_kn: Any,
    N_k: Any,
    *,
    f_k_init: Any = None,
    tol: float = 1e-12,
    maxiter: int = 200,
    bootstrap: int | None = None,
    seed: Any = None,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
) -> FreeEnergyEstimate:
    r"""Multistate Bennett acceptance ratio (MBAR) free energies :math:`f_k` relative to state 0.

    ``u_kn[k, n]`` is the reduced energy of sample ``n`` (from any state) in state ``k``; ``N_k[k]`` the
    number of samples drawn from state ``k`` (samples may be in any order; the bootstrap assumes they are
    grouped by state in the order of ``N_k``). The :math:`f_k` solve
    :math:`f_k = -\log\sum_n e^{-u_{kn}} / \sum_j N_j e^{f_j - u_{jn}}`, i.e. minimize the convex function

    .. math:: L(f) = \sum_n \log\sum_k N_k e^{f_k - u_{kn}} - \sum_k N_k f_k,

    here by Newton's method on the sampled states (gauge :math:`f_0 = 0`, Hessian
    :math:`H = \operatorname{diag}(N_k \sum_n W_{nk}) - (NW)^\top (NW)`) with a backtracking line search and a
    self-consistent-iteration fallback, to :math:`\max_k|\sum_n W_{nk} - 1| <` ``tol``. Unsampled states
    (``N_k = 0``) get :math:`f_k` from the formula above afterwards.

    Covariance (asymptotic, pymbar's ``"svd-ew"``): with the normalized weights
    :math:`W_{nk} = e^{f_k - u_{kn}} / \sum_j N_j e^{f_j - u_{jn}}`, :math:`W^\top W = V S^2 V^\top`,

    .. math:: \Theta = V S\,\big(I - S V^\top \operatorname{diag}(N) V S\big)^{+}\, S V^\top,

    (pseudo-inverse with relative cutoff 1e-10) and
    :math:`\sigma^2(f_k - f_0) = \Theta_{kk} + \Theta_{00} - 2\Theta_{k0}` (round-off negatives set to 0).

    Returns
    -------
    FreeEnergyEstimate: ``value`` (K,) = f_k - f_0, ``stderr`` (K,); ``diagnostics``: ``theta`` (K, K),
    ``dDelta_f`` (K, K) stderr of all differences f_j - f_i, ``ess`` (K,) Kish ESS of each state's weights
    (pymbar's ``compute_effective_sample_number``), ``overlap`` (1 - second-largest eigenvalue of the
    overlap matrix :math:`O = W^\top W \operatorname{diag}(N)`), ``n_iterations``, ``converged``.
    """
    be = resolve_backend(u_kn, backend=backend)
    xp = be.xp
    u = be.asarray(u_kn, be.dtype)
    if u.ndim != 2:
        raise ValueError(f"u_kn must have shape (K, N), got {tuple(u.shape)}")
    K, N = u.shape
    Nk_host = _host_counts(N_k)
    if len(Nk_host) != K:
        raise ValueError(f"N_k has {len(Nk_host)} entries but u_kn has K = {K} states")
    if any(v < 0 for v in Nk_host):
        raise ValueError(f"N_k must be non-negative, got {Nk_host}")
    if sum(Nk_host) != N or N == 0:
        raise ValueError(f"sum(N_k) = {sum(Nk_host)} must equal the number of samples N = {N} (> 0)")
    bad = ~xp.isfinite(u)
    if bool(xp.any(bad)):
        k, n = _first_bad_index(bad, xp)
        value = float(be.to_numpy(u[k, n]))
        raise ValueError(f"u_kn has a non-finite reduced energy at index ({k}, {n}) (value {value})")
    sampled = [k for k in range(K) if Nk_host[k] > 0]
    s_idx = xp.asarray(sampled, dtype=xp.int64, device=be.device)
    us = xp.take(u, s_idx, axis=0)
    NK = xp.asarray([float(Nk_host[k]) for k in sampled], dtype=u.dtype, device=be.device)
    if f_k_init is None:
        f0 = xp.zeros((len(sampled),), dtype=u.dtype, device=be.device)
    else:
        f0 = xp.take(be.asarray(f_k_init, be.dtype), s_idx, axis=0)
        f0 = f0 - f0[0]
    f_s, ld, n_iter, converged = _mbar_solve(us, NK, f0, be, tol=tol, maxiter=maxiter)
    if not converged:
        warnings.warn(f"mbar: not converged to tol={tol} in {maxiter} iterations", FreeEnergyWarning, stacklevel=2)
    # all states: f_k = -logsumexp_n(-u_kn - ld_n) (equals f_s on sampled states at convergence)
    f_all = -logsumexp(-u - ld[None, :], axis=1, xp=xp)
    f_all = xp.where(xp.asarray([v > 0 for v in Nk_host], device=be.device), _scatter(f_s, sampled, K, xp), f_all)
    shift = f_all[0]
    f_all = f_all - shift
    ld = ld - shift
    W = xp.exp(f_all[:, None] - u - ld[None, :])  # (K, N)
    Nfull = xp.asarray([float(v) for v in Nk_host], dtype=u.dtype, device=be.device)
    theta = _mbar_theta(W, Nfull, xp)
    dg = xp.linalg.diagonal(theta)
    d2 = dg[:, None] + dg[None, :] - 2 * theta
    d2 = xp.where(d2 > 0, d2, xp.zeros_like(d2))
    dDelta = xp.sqrt(d2)
    ess = 1.0 / xp.sum(W * W, axis=1) * (xp.sum(W, axis=1) ** 2)
    _check_ess(xp.take(ess, s_idx, axis=0), min(Nk_host[k] for k in sampled), ess_warning, "mbar")
    overlap = _mbar_overlap(W, Nfull, xp)
    diagnostics = {
        "theta": theta,
        "dDelta_f": dDelta,
        "f_k": f_all,
        "ess": ess,
        "overlap": overlap,
        "n_iterations": n_iter,
        "converged": converged,
    }
    stderr = dDelta[0, :]
    diagnostics["stderr_asymptotic"] = stderr
    if bootstrap is not None:
        if not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or bootstrap < 2:
            raise ValueError(f"bootstrap must be an integer >= 2 (number of resamples), got {bootstrap!r}")
        gen = default_rng(seed, be)
        offsets = [sum(Nk_host[:k]) for k in range(K)]
        reps = []
        for _ in range(bootstrap):
            idx = xp.concat([gen.integers(0, Nk_host[k], (Nk_host[k],)) + offsets[k] for k in sampled], axis=0)
            ub = xp.take(us, idx, axis=1)
            _, ldb, _, _ = _mbar_solve(ub, NK, f_s, be, tol=tol, maxiter=maxiter)
            fa = -logsumexp(-xp.take(u, idx, axis=1) - ldb[None, :], axis=1, xp=xp)
            reps.append(fa - fa[0])
        stderr = _std_over_first(xp.stack(reps, axis=0), xp)
    return FreeEnergyEstimate(f_all, stderr, diagnostics=diagnostics, backend=be)


def _host_counts(N_k: Any) -> list[int]:
    """Sample counts as Python ints, from a list or an array of any library (counts are metadata)."""
    from . import backends

    owner = backends.owner_of(N_k)
    host = owner.to_numpy(N_k) if owner is not None else N_k
    if hasattr(host, "tolist"):
        host = host.tolist()
    if not isinstance(host, (list, tuple)):
        host = [host]
    out = []
    for v in host:
        if float(v) != int(v):
            raise ValueError(f"N_k must hold integer counts, got {v!r}")
        out.append(int(v))
    return out


def _scatter(values: Any, idx: list[int], K: int, xp: Any) -> Any:
    """Length-K array with ``values`` at positions ``idx`` and 0 elsewhere (no in-place writes)."""
    pos = {k: i for i, k in enumerate(idx)}
    zero = xp.zeros((1,), dtype=values.dtype, device=values.device)
    return xp.concat([values[pos[k] : pos[k] + 1] if k in pos else zero for k in range(K)])


def _mbar_theta(W: Any, NK: Any, xp: Any) -> Any:
    """pymbar's 'svd-ew' asymptotic covariance from W (K, N) and N_k."""
    K = W.shape[0]
    S2, V = xp.linalg.eigh(W @ xp.matrix_transpose(W))
    S = xp.sqrt(xp.where(S2 > 0, S2, xp.zeros_like(S2)))
    VS = V * S[None, :]
    eye = xp.eye(K, dtype=W.dtype, device=W.device)
    A = eye - xp.matrix_transpose(VS) @ (NK[:, None] * VS)
    return VS @ xp.linalg.pinv(A, rtol=1e-10) @ xp.matrix_transpose(VS)


def _mbar_overlap(W: Any, NK: Any, xp: Any) -> Any:
    """1 - second-largest eigenvalue of O = W^T W diag(N) (via the symmetric similar matrix)."""
    K = W.shape[0]
    if K < 2:
        return xp.asarray(1.0, dtype=W.dtype, device=W.device)
    r = xp.sqrt(NK)
    B = r[:, None] * (W @ xp.matrix_transpose(W)) * r[None, :]
    ev = xp.linalg.eigvalsh(B)
    return 1.0 - ev[-2]


# ----------------------------------------------------------------------------------------------- samples
def works_from_samples(samples: Any, *, backend: Any = None) -> Any:
    r"""Works from a ``Samples``-like result (duck-typed): ``samples.info["works"]`` when present, else
    :math:`W = -A` from the log-weights ``samples.log_weights`` (AIS/SMC/NETS: :math:`E[e^{A}] = Z_1/Z_0`, so
    :math:`\Delta F = -\log\,\text{mean}\, e^{A}` is :func:`exp` of :math:`W = -A`). A plain array is taken as
    works. With resampling (SMC), use ``info["works"]`` or the ``log_Z`` of the sampler instead."""
    info = getattr(samples, "info", None)
    if isinstance(info, dict) and info.get("works") is not None:
        w = info["works"]
    elif hasattr(samples, "log_weights"):
        lw = samples.log_weights
        if lw is None:
            raise ValueError("samples has neither info['works'] nor log_weights")
        be = resolve_backend(lw, backend=backend)
        return -be.asarray(lw, be.dtype)
    elif hasattr(samples, "shape"):
        w = samples
    else:
        raise TypeError(f"cannot get works from {type(samples).__name__}: need info['works'] or log_weights")
    be = resolve_backend(w, backend=backend)
    return be.asarray(w, be.dtype)


def from_samples(samples: Any, reverse: Any = None, **kwargs: Any) -> FreeEnergyEstimate:
    """EXP of :func:`works_from_samples` (or BAR when a second, reverse ``Samples``-like is given)."""
    wf = works_from_samples(samples)
    if reverse is None:
        return exp(wf, **kwargs)
    return bar(wf, works_from_samples(reverse), **kwargs)


# ----------------------------------------------------------------------------------------------- escorted
def _rk4_with_divergence(velocity, divergence, x, t0: float, t1: float, n_steps: int, xp: Any):
    """Fixed-step RK4 of dx/dt = b(t, x), d(ell)/dt = div b(t, x) from t0 to t1 (t1 < t0 allowed)."""
    h = (t1 - t0) / n_steps
    ell = xp.zeros(x.shape[:1], dtype=x.dtype, device=x.device)
    t = t0
    for i in range(n_steps):
        t = t0 + i * h
        k1, d1 = velocity(t, x), divergence(t, x)
        x2 = x + (h / 2) * k1
        k2, d2 = velocity(t + h / 2, x2), divergence(t + h / 2, x2)
        x3 = x + (h / 2) * k2
        k3, d3 = velocity(t + h / 2, x3), divergence(t + h / 2, x3)
        x4 = x + h * k3
        k4, d4 = velocity(t + h, x4), divergence(t + h, x4)
        x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        ell = ell + (h / 6) * (d1 + 2 * d2 + 2 * d3 + d4)
    return x, ell


@declare(uses=("jit",))
def flow_works(
    velocity: Callable[[float, Any], Any],
    divergence: Callable[[float, Any], Any],
    U_start: Callable[[Any], Any],
    U_end: Callable[[Any], Any],
    x: Any,
    *,
    t_start: float = 0.0,
    t_end: float = 1.0,
    n_steps: int = 100,
    backend: Any = None,
) -> tuple[Any, Any]:
    r"""Generalized (escorted) works along the deterministic flow :math:`\dot X_t = b(t, X_t)` (ε = 0):

    .. math:: W = U_{\rm end}(X_{t_{\rm end}}) - U_{\rm start}(X_{t_{\rm start}})
              - \int_{t_{\rm start}}^{t_{\rm end}} \nabla\!\cdot b(t, X_t)\,dt,

    the targeted-FEP work of the map :math:`T` (:math:`\log|\det\nabla T| = \int \nabla\cdot b\,dt`), which
    satisfies :math:`E_{\rho_{\rm start}}[e^{-W}] = Z_{\rm end}/Z_{\rm start}` for *any* ``b``. Integrated with
    fixed-step RK4 (``n_steps``; ``t_end < t_start`` runs backward, giving reverse works).

    ``velocity(t, x)`` returns shape (n, d), ``divergence(t, x)`` shape (n,), ``U(x)`` shape (n,), for a float
    ``t`` and ``x`` of shape (n, d). Returns ``(works, x_end)``.
    """
    be = resolve_backend(x, backend=backend)
    xp = be.xp
    x = be.asarray(x, be.dtype)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x must have shape (n, d) with n >= 1, got {tuple(x.shape)}")
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    x_end, ell = _rk4_with_divergence(velocity, divergence, x, float(t_start), float(t_end), n_steps, xp)
    w = U_end(x_end) - U_start(x) - ell
    return w, x_end


@declare(uses=("jit",))
def escorted_jarzynski(
    velocity: Callable[[float, Any], Any],
    divergence: Callable[[float, Any], Any],
    U0: Callable[[Any], Any],
    U1: Callable[[Any], Any],
    x0: Any,
    x1: Any = None,
    *,
    n_steps: int = 100,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
) -> FreeEnergyEstimate:
    r"""Escorted Jarzynski (``x1`` omitted: EXP of the forward works) or controlled Crooks (``x1`` given:
    BAR of forward works from ``x0 ~ ρ0`` and reverse works from ``x1 ~ ρ1`` along the time-reversed flow).

    Works: :func:`flow_works` with :math:`\rho_k \propto e^{-U_k}`; forward
    :math:`W_F = U_1(X_1) - U_0(X_0) - \int_0^1 \nabla\cdot b\,dt` from :math:`X_0 = x_0`, reverse
    :math:`W_R = U_0(X_0) - U_1(X_1) + \int_0^1 \nabla\cdot b\,dt` from :math:`X_1 = x_1`. They satisfy
    Crooks' relation, so BAR is the minimum-variance combination; an exact transport
    (:math:`X_1 \sim \rho_1`) makes every work equal to :math:`\Delta F` (zero variance).

    ``diagnostics`` adds ``w_forward``, ``w_reverse`` (or None), ``lower_bound`` :math:`-E[W_R]`,
    ``upper_bound`` :math:`E[W_F]` (variational bounds) and ``exp_forward`` (the EXP estimate).
    """
    be = resolve_backend(x0, x1, backend=backend)
    wf, _ = flow_works(velocity, divergence, U0, U1, x0, t_start=0.0, t_end=1.0, n_steps=n_steps, backend=be)
    ef = exp(wf, ess_warning=ess_warning, backend=be)
    if x1 is None:
        est, wr = ef, None
    else:
        wr, _ = flow_works(velocity, divergence, U1, U0, x1, t_start=1.0, t_end=0.0, n_steps=n_steps, backend=be)
        est = bar(wf, wr, ess_warning=ess_warning, backend=be)
    bd = bounds(wf, wr, backend=be)
    diagnostics = dict(est.diagnostics)
    diagnostics.update(
        w_forward=wf,
        w_reverse=wr,
        lower_bound=bd.lower,
        upper_bound=bd.upper,
        exp_forward=ef.value,
        method="exp" if x1 is None else "bar",
    )
    return FreeEnergyEstimate(est.value, est.stderr, diagnostics=diagnostics, backend=be)


# ----------------------------------------------------------------------------------------------- demo
def demo() -> None:
    """Print a short showcase: EXP/BAR on Gaussian works satisfying Crooks, works of magnitude 1e4, MBAR."""
    from . import get_backend

    be = get_backend("numpy")
    xp = be.xp
    gen = be.rng(0)
    dF, s, n = 1.0, 2.0, 20_000
    wf = gen.normal((n,), loc=dF + s * s / 2, scale=s)
    wr = gen.normal((n,), loc=-dF + s * s / 2, scale=s)
    print(f"Gaussian works satisfying Crooks exactly: dF = {dF}, sigma = {s}, n = {n} per direction")
    for name, e in [("EXP forward", exp(wf)), ("EXP reverse", exp(wr, direction="reverse")), ("BAR", bar(wf, wr))]:
        print(f"  {name:12s} {float(e.value):8.4f} +- {float(e.stderr):.4f}")
    b = bounds(wf, wr)
    print(f"  bounds       {float(b.lower):8.4f} <= dF <= {float(b.upper):.4f}")
    e = bar(wf + 1e4, wr - 1e4, ess_warning=0)
    print(
        f"works shifted by +-1e4 (dF = 1e4 + 1): BAR {float(e.value):.4f} +- {float(e.stderr):.4f}, "
        f"overlap {float(e.diagnostics['overlap']):.2e}"
    )
    # MBAR on three harmonic states u_k(x) = k_k x^2 / 2: f_k - f_0 = 0.5 log(k_k / k_0)
    ks = [1.0, 2.0, 4.0]
    x = xp.concat([gen.normal((2000,), scale=1 / math.sqrt(k)) for k in ks])
    u = xp.stack([0.5 * k * x * x for k in ks])
    m = mbar(u, [2000, 2000, 2000])
    exact = [0.5 * math.log(k / ks[0]) for k in ks]
    print("MBAR, harmonic states k = 1, 2, 4 (exact f_k - f_0 = " + ", ".join(f"{v:.4f}" for v in exact) + "):")
    print("  " + ", ".join(f"{float(v):.4f} +- {float(e):.4f}" for v, e in zip(m.value, m.stderr, strict=True)))
