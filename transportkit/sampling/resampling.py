r"""SMC resampling shared by AIS/SMC and NETS, optionally over independent islands (Del Moral, Doucet & Jasra
2006, arXiv:cond-mat/0512119; Douc & Cappé 2005 for the schemes).

**Resampling.** Ancestor indices by inverting the cumulative weights at positions
:math:`u_i\in[0,1)`: ``systematic`` :math:`u_i = (i + U)/m`, ``stratified`` :math:`u_i = (i + U_i)/m`,
``multinomial`` :math:`u_i = U_i` (i.i.d.); all three are unbiased.

**Islands.** With ``islands = K`` the n walkers form K independent populations of m = n/K consecutive walkers;
island k resamples within itself when its own ESS/m drops below the threshold, and carries the log of its
closed epochs' normalizers :math:`\ell_k`. At the end, with A the current log-weights,

.. math:: \hat Z_k = e^{\ell_k}\,\frac1m\sum_{i\in k}e^{A^i},\qquad \hat Z = \frac1K\sum_k\hat Z_k
          = \frac1n\sum_i e^{\ell_{k(i)} + A^i},

each :math:`\hat Z_k` an unbiased estimate, independent of the others, so that the delta method on their mean,

.. math:: \widehat{\mathrm{Var}}\,\log\hat Z = \frac{K/\mathrm{ESS}(\log\hat Z_{1..K}) - 1}{K - 1}
          = \frac{\widehat{\mathrm{Var}}(\hat Z_k)}{K\,\bar Z^2},

is a consistent standard error. With one island (all walkers resample together) the variance is the sum of the
epochs' delta-method variances, which ignores the correlations that resampling creates and underestimates the
seed-to-seed spread (by factors 0.15–0.8 on a d = 10 Gaussian, where islands give 0.83–0.94). The default
(``islands=None``) is :func:`auto_islands`: up to 10 islands of at least 100 walkers.

**Pure steps.** :func:`resample_step` does the whole decision as array operations (``xp.where`` over the islands:
no Python branch on data, no host sync), so that it runs inside a compiled loop; its bookkeeping lives in a
:class:`ResampleState`. :class:`Resampler` is the stateful wrapper kept for callers that step in Python.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .._backend import scalar_device
from .._typing import Array
from ..numerics import ess, logmeanexp, logsumexp
from ._common import take_parts

__all__ = [
    "RESAMPLERS",
    "ResampleConfig",
    "ResampleState",
    "Resampler",
    "auto_islands",
    "categorical_unchecked",
    "final_estimate",
    "final_summary",
    "log_mean_var",
    "make_resampler",
    "resample_indices",
    "resample_step",
]

RESAMPLERS = ("multinomial", "systematic", "stratified")


def auto_islands(n: int) -> int:
    """The largest K <= 10 that divides n with n/K >= 100 walkers per island (1 for n < 200)."""
    return max(k for k in range(1, 11) if n % k == 0 and (k == 1 or n // k >= 100))


def log_mean_var(log_w: Any, xp: Any) -> float:
    r"""Delta-method variance of :math:`\operatorname{logmeanexp}(\log w)` over n independent terms:
    :math:`(n\sum_i W_i^2 - 1)/(n - 1) = (n/\mathrm{ESS} - 1)/(n - 1)` (W the normalized weights)."""
    n = log_w.shape[0]
    if n < 2:
        return math.nan
    return max(float(n / ess(log_w, xp=xp) - 1.0), 0.0) / (n - 1)


def log_mean_var_array(log_w: Any, xp: Any) -> Any:
    """:func:`log_mean_var` as a 0-d array (no host sync; n >= 2)."""
    n = log_w.shape[0]
    v = n / ess(log_w, xp=xp) - 1.0
    return xp.where(v > 0, v, xp.zeros_like(v)) / (n - 1)


def categorical_unchecked(log_p: Array, n: int, gen: Any, xp: Any) -> Array:
    """``n`` category indices drawn with probabilities proportional to ``exp(log_p)`` (1-D, not all ``-inf``), by
    inverse CDF, without the input checks (and their host syncs) of
    :meth:`transportkit.random.Generator.categorical`: usable inside a compiled loop."""
    cdf = xp.cumulative_sum(xp.exp(log_p - logsumexp(log_p, xp=xp)))
    u = gen.uniform((n,), dtype=log_p.dtype) * cdf[-1]
    idx = xp.searchsorted(cdf, u, side="right")
    return xp.minimum(idx, xp.asarray(log_p.shape[0] - 1, dtype=idx.dtype, device=scalar_device(idx)))


def resample_indices(log_w: Array, method: str, gen: Any, xp: Any, islands: int = 1) -> Array:
    """Ancestor indices (shape (n,)) from log-weights ``log_w`` (shape (n,)); with ``islands = K`` each block of
    n/K consecutive walkers is resampled within itself (one sorted search over the K stacked CDFs, each shifted
    by its island number). Islands whose weights are all zero keep their walkers."""
    if method not in RESAMPLERS:
        raise ValueError(f"unknown resampling method {method!r}; choose one of {RESAMPLERS}")
    n = log_w.shape[0]
    K = int(islands)
    m = n // K
    dev = scalar_device(log_w)
    lw = xp.reshape(log_w, (K, m))
    lse = logsumexp(lw, axis=1, keepdims=True, xp=xp)
    dead = lse == -math.inf
    w = xp.where(dead, xp.zeros_like(lw), xp.exp(lw - xp.where(dead, xp.zeros_like(lse), lse)))
    cdf = xp.cumulative_sum(w, axis=1)
    total = cdf[:, m - 1 :]
    cdf = cdf / xp.where(total > 0, total, xp.ones_like(total))
    off = xp.arange(K, dtype=lw.dtype, device=dev)[:, None]
    i = xp.arange(m, dtype=lw.dtype, device=dev)[None, :]
    if method == "systematic":
        u = (i + gen.uniform((K, 1), dtype=lw.dtype)) / m
    elif method == "stratified":
        u = (i + gen.uniform((K, m), dtype=lw.dtype)) / m
    else:
        u = gen.uniform((K, m), dtype=lw.dtype)
    idx = xp.searchsorted(xp.reshape(cdf + off, (n,)), xp.reshape(u + off, (n,)), side="right")
    own = xp.arange(n, dtype=idx.dtype, device=dev)
    last = xp.reshape(xp.broadcast_to(own[m - 1 :: m][:, None], (K, m)), (n,))
    idx = xp.minimum(idx, last)
    return xp.where(xp.reshape(xp.broadcast_to(dead, (K, m)), (n,)), own, idx)


class ResampleConfig(NamedTuple):
    """Static settings: ``method``, walkers ``n``, islands ``K`` of ``m`` walkers, ESS/m ``threshold``."""

    method: str
    n: int
    K: int
    m: int
    threshold: float


class ResampleState(NamedTuple):
    """Bookkeeping carried through a run: per-island log normalizers of the closed epochs ``log_z`` (K,), the summed
    epoch variances ``var`` (one island) and the number of resampling ``events`` (0-d arrays)."""

    log_z: Any
    var: Any
    events: Any


def resample_config(method: str, n: int, islands: int | None, threshold: float) -> ResampleConfig:
    """Checked :class:`ResampleConfig` (``islands=None``: :func:`auto_islands`)."""
    islands = auto_islands(n) if islands is None else islands
    if method not in RESAMPLERS:
        raise ValueError(f"unknown resampling method {method!r}; choose one of {RESAMPLERS} or None")
    if isinstance(islands, bool) or int(islands) != islands or islands < 1 or n % islands or n // islands < 2:
        raise ValueError(f"islands must be a positive divisor of n = {n} with n/islands >= 2, got {islands!r}")
    K = int(islands)
    return ResampleConfig(method, n, K, n // K, float(threshold))


def resample_init(cfg: ResampleConfig, xp: Any, dtype: Any, device: Any) -> ResampleState:
    """The bookkeeping at the start of a run."""
    zero = xp.zeros((), dtype=dtype, device=device)
    return ResampleState(
        xp.zeros((cfg.K,), dtype=dtype, device=device), zero, xp.zeros((), dtype=xp.int32, device=device)
    )


def _low_islands(cfg: ResampleConfig, A: Any, xp: Any) -> tuple[Any, Any]:
    """Islands whose ESS/m is below the threshold (NaN, an island with no weight left, is False) and their
    logmeanexp of the weights."""
    A2 = xp.reshape(A, (cfg.K, cfg.m))
    return ess(A2, axis=1, xp=xp) / cfg.m < cfg.threshold, logmeanexp(A2, axis=1, xp=xp)


def resample_step(
    cfg: ResampleConfig,
    rs: ResampleState,
    A: Any,
    x: Any,
    parts: tuple[Any, ...],
    gen: Any,
    xp: Any,
    allow: Any = None,
    loops: Any = None,
) -> tuple[ResampleState, Any, Any, tuple[Any, ...], Any, Any]:
    """Resample the islands whose ESS/m is below the threshold (and ``allow``, a 0-d bool, is true), as array
    operations (ancestor indices are drawn every call and applied where needed). Returns ``(state, A, x, parts,
    event, lme)``: ``event`` (0-d bool) whether any island resampled, ``lme`` (0-d) logmeanexp of the first island's
    weights before resampling.

    ``loops`` (a compiling :class:`transportkit._loops.Loops`): the draw and the gathers run only at steps where
    some island resamples (:meth:`~transportkit._loops.Loops.when`); the result is the same, because a compiled
    step's draws come from their own key (``gen.at(key, i)``), so skipping one changes no other number. Without it
    (Python loops) the ancestors are drawn at every call, as the stream of a stateful generator expects."""
    low, lme = _low_islands(cfg, A, xp)
    if allow is not None:
        low = low & allow
    if loops is None or not loops.compiled:
        return _apply(cfg, rs, A, x, parts, low, lme, gen, xp)
    event = xp.any(low)

    def apply(st: tuple) -> tuple:
        return _apply(cfg, *st, low, lme, gen, xp)[:4]

    rs, A, x, parts = loops.when(event, apply, (rs, A, x, parts))
    return rs, A, x, parts, event, lme[0]


def _apply(
    cfg: ResampleConfig, rs: ResampleState, A: Any, x: Any, parts: tuple, low: Any, lme: Any, gen: Any, xp: Any
) -> tuple[ResampleState, Any, Any, tuple[Any, ...], Any, Any]:
    event = xp.any(low)
    log_z = rs.log_z + xp.where(low, lme, xp.zeros_like(lme))
    var = rs.var
    if cfg.K == 1:
        var = var + xp.where(event, log_mean_var_array(A, xp), xp.zeros_like(var))
    mask = xp.reshape(xp.broadcast_to(low[:, None], (cfg.K, cfg.m)), (cfg.n,))
    idx = resample_indices(A, cfg.method, gen, xp, cfg.K)
    idx = xp.where(mask, idx, xp.arange(cfg.n, dtype=idx.dtype, device=getattr(idx, "device", None)))
    events = rs.events + xp.astype(event, rs.events.dtype)
    A = xp.where(mask, xp.zeros_like(A), A)
    new = ResampleState(log_z, var, events)
    return new, A, xp.take(x, idx, axis=0), take_parts(parts, idx, xp), event, lme[0]


def finish_arrays(cfg: ResampleConfig, rs: ResampleState, A: Any, xp: Any) -> tuple[Any, Any, Any, Any]:
    """``(log Z - log Z0, its variance, final log-weights, per-island log Z - log Z0)`` as arrays."""
    log_w = xp.reshape(rs.log_z[:, None] + xp.reshape(A, (cfg.K, cfg.m)), (cfg.n,))
    lz_k = logmeanexp(xp.reshape(log_w, (cfg.K, cfg.m)), axis=1, xp=xp)
    var = rs.var + log_mean_var_array(A, xp) if cfg.K == 1 else log_mean_var_array(lz_k, xp)
    return logmeanexp(log_w, xp=xp), var, log_w, lz_k


class Resampler:
    """Resampling bookkeeping of one sampler run stepped in Python (see the module docstring): call it on the
    log-weights after each reweighting; :meth:`finish` gives log Z (relative to the base), its variance and the final
    weights. It skips the draw when no island needs resampling (one host sync per call); compiled runs use
    :func:`resample_step` instead."""

    def __init__(
        self, method: str, n: int, islands: int | None, threshold: float, gen: Any, xp: Any, dtype: Any, device: Any
    ):
        self.cfg = resample_config(method, n, islands, threshold)
        self.method, self.n, self.K, self.m = method, n, self.cfg.K, self.cfg.m
        self.threshold, self.gen, self.xp = threshold, gen, xp
        self.state = resample_init(self.cfg, xp, dtype, device)
        self.epochs: list[float] = []  # one island: logmeanexp(A) of each closed epoch

    @property
    def log_z(self) -> Any:
        return self.state.log_z

    @property
    def var(self) -> float:
        return float(self.state.var)

    @property
    def events(self) -> int:
        return int(self.state.events)

    def log_weights(self, A: Any) -> Any:
        r""":math:`\ell_{k(i)} + A^i`: weights of the walkers as draws from the current density."""
        xp = self.xp
        return xp.reshape(self.state.log_z[:, None] + xp.reshape(A, (self.K, self.m)), (self.n,))

    def step(self, A: Any, x: Any, parts: tuple[Any, ...]) -> tuple[Any, Any, tuple[Any, ...]]:
        """Resample the islands whose ESS/m is below the threshold: ``(A, x, parts)`` after resampling (the same
        objects if none)."""
        xp = self.xp
        low, lme = _low_islands(self.cfg, A, xp)
        if not bool(xp.any(low)):
            return A, x, parts
        if self.K == 1:
            self.epochs.append(float(lme[0]))
        self.state, A, x, parts, _, _ = _apply(self.cfg, self.state, A, x, parts, low, lme, self.gen, xp)
        return A, x, parts

    def finish(self, A: Any) -> tuple[float, float, Any, Any]:
        """``(log Z - log Z0, its variance, final log-weights, per-island log Z - log Z0)``."""
        lz, var, log_w, lz_k = finish_arrays(self.cfg, self.state, A, self.xp)
        return float(lz), float(var), log_w, lz_k


def make_resampler(
    method: str | None, n: int, islands: int | None, threshold: float, gen: Any, xp: Any, dtype: Any, device: Any
) -> Resampler | None:
    """A :class:`Resampler`, or None for ``method=None`` (then ``islands`` must be None or 1)."""
    if method is None:
        if islands not in (None, 1):
            raise ValueError(f"islands = {islands!r} needs resampling (give resample=...)")
        return None
    return Resampler(method, n, islands, threshold, gen, xp, dtype, device)


def final_summary(rs: Resampler | None, A: Any, be: Any) -> tuple[float, float, Any, Any, float]:
    """:func:`final_estimate` and the Kish ESS of the final log-weights, as one compiled program where the backend
    compiles (one host sync)."""
    xp, n = be.xp, A.shape[0]
    cfg = None if rs is None else rs.cfg

    def summary(state: ResampleState | None, a: Any) -> tuple:
        if cfg is None:
            return logmeanexp(a, xp=xp), a, None, ess(a, xp=xp)
        lz, var, log_w, lz_k = finish_arrays(cfg, state, a, xp)
        return lz, var, log_w, lz_k, ess(log_w, xp=xp)

    run = be.compiled(("final_summary", cfg), lambda: summary) if be.compiles_loops else summary
    if cfg is None:
        lz, log_w, lz_k, e = run(None, A)
        e = float(e)
        var = math.nan if n < 2 else max(float(n / e - 1.0), 0.0) / (n - 1)  # as log_mean_var
        return float(lz), var, log_w, lz_k, e
    lz, var, log_w, lz_k, e = run(rs.state, A)
    return float(lz), float(var), log_w, lz_k, float(e)


def final_estimate(rs: Resampler | None, A: Any, xp: Any) -> tuple[float, float, Any, Any]:
    """``(log Z - log Z0, its variance, final log-weights, per-island log Z - log Z0 or None)`` of a run with
    resampler ``rs`` (None: plain importance sampling, delta-method variance)."""
    if rs is None:
        return float(logmeanexp(A, xp=xp)), log_mean_var(A, xp), A, None
    return rs.finish(A)
