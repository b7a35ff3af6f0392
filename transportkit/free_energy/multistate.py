r"""Multistate Bennett acceptance ratio (MBAR): free energies of K states from samples of any of them.

References
----------
- M. R. Shirts, J. D. Chodera, "Statistically optimal analysis of samples from multiple equilibrium states",
  J. Chem. Phys. 129, 124105 (2008), arXiv:0801.1426.
- C. H. Bennett, "Efficient estimation of free energy differences from Monte Carlo data",
  J. Comput. Phys. 22, 245 (1976) (the two-state case).
- Z. Tan, "On a likelihood approach for Monte Carlo integration", J. Amer. Statist. Assoc. 99, 1027 (2004) (the
  convex objective).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._validation import as_count, as_points, as_real
from ..backends import owner_of
from ..numerics import ess, logsumexp
from ..random import SEED_DEPRECATED, Generator
from ._checks import (
    bootstrap_stream,
    check_bootstrap,
    check_threshold,
    first_bad_index,
    refuse_lazy_inputs,
    std_over_first,
)
from .diagnostics import (
    ESS_WARNING,
    Array,
    FreeEnergyConvergenceWarning,
    FreeEnergyEstimate,
    MbarDiagnostics,
    check_ess,
    check_overlap,
)
from .mbar_covariance import _mbar_overlap, _mbar_theta, _squared_differences

__all__ = ["mbar"]


# ----------------------------------------------------------------------------------------------- solver
def _mbar_evaluate(u: Array, logN: Array, NK: Array, f: Array, *, xp: Any) -> tuple[Array, ...]:
    """log-denominators ld_n = logsumexp_k(log N_k + f_k - u_kn) and the convex objective
    L(f) = sum_n ld_n - sum_k N_k f_k."""
    ld = logsumexp(logN[:, None] + f[:, None] - u, axis=0, xp=xp)
    return ld, xp.sum(ld) - xp.sum(NK * f)


def _mbar_newton_system(u: Array, NK: Array, f: Array, ld: Array, eye: Array, *, xp: Any) -> tuple[Array, ...]:
    """log column sums of the normalized weights, max |colsum - 1|, gradient N_k (colsum_k - 1) and Hessian
    diag(N_k colsum_k) - (N W)(N W)^T of the MBAR objective."""
    logW = f[:, None] - u - ld[None, :]
    log_colsum = logsumexp(logW, axis=1, xp=xp)
    colsum = xp.exp(log_colsum)
    NW = NK[:, None] * xp.exp(logW)
    H = eye * (NK * colsum)[None, :] - NW @ xp.matrix_transpose(NW)
    return log_colsum, xp.max(xp.abs(colsum - 1.0)), NK * (colsum - 1.0), H


def _newton_step(g: Array, H: Array, xp: Any, device: Any) -> Array:
    """The Newton step -H^{-1} g in the gauge f_0 = 0 (first entry 0), by ``eigh`` of the reduced Hessian (symmetric
    positive semi-definite); NaN where it is singular to 1e-12 relative (disconnected states), so that the caller
    falls back to a self-consistent iteration as a failed solve would."""
    w, V = xp.linalg.eigh(H[1:, 1:])
    regular = xp.all(w > 1e-12 * xp.max(xp.abs(w)))
    inv = xp.where(regular, 1.0 / xp.where(w > 0, w, xp.ones_like(w)), xp.full_like(w, math.nan))
    s = V @ (inv * (xp.matrix_transpose(V) @ -g[1:]))
    return xp.concat([xp.zeros((1,), dtype=g.dtype, device=device), s])


class _Problem:
    """The fixed arrays of one MBAR solve and the backend's ``while_loop``."""

    def __init__(self, u: Array, NK: Array, tol: float, be: Backend) -> None:
        xp = self.xp = be.xp
        self.u, self.NK, self.logN, self.tol, self.loop, self.device = u, NK, xp.log(NK), tol, be.while_loop, be.device
        self.eye = xp.eye(u.shape[0], dtype=u.dtype, device=be.device)

    def evaluate(self, f: Array) -> tuple[Array, Array]:
        return _mbar_evaluate(self.u, self.logN, self.NK, f, xp=self.xp)


def _candidate(p: _Problem, f: Array, L: Array, step: Array, slope: Array, sci: Array, k: Array) -> tuple:
    """Line-search point k: the Newton point f + 2^-k step (k < 40, finite step) with its Armijo test, else the
    self-consistent-iteration point ``sci``. Returns (f_c, ld_c, L_c, newton accepted, search over)."""
    xp = p.xp
    newton = xp.all(xp.isfinite(step)) & (k < 40)
    t = xp.pow(xp.asarray(0.5, dtype=f.dtype, device=p.device), xp.astype(k, f.dtype))
    f_c = xp.where(newton, f + t * xp.where(xp.isfinite(step), step, xp.zeros_like(step)), sci)
    ld_c, L_c = p.evaluate(f_c)
    ok = xp.isfinite(L_c) & (L_c <= L + 1e-4 * t * slope + 1e-13 * (xp.abs(L) + 1.0))
    return f_c, ld_c, L_c, newton & ok, ~newton | ok


def _iterate(p: _Problem, c: tuple) -> tuple:
    """One MBAR iteration on the carry (f, ld, L, it, done): stop if max|colsum - 1| < tol, else a Newton step with
    backtracking line search (t = 1, 1/2, ..., 2^-39), falling back to the self-consistent iteration; done also when
    an accepted Newton step changes f by less than round-off."""
    xp = p.xp
    f, ld, L, it, _ = c
    log_colsum, err, g, H = _mbar_newton_system(p.u, p.NK, f, ld, p.eye, xp=xp)
    small = err < p.tol
    sci = f - log_colsum  # f_k <- -log sum_n e^{-u_kn} / sum_j N_j e^{f_j - u_jn}
    step = _newton_step(g, H, xp, p.device) if f.shape[0] > 1 else xp.full_like(f, math.nan)
    slope = xp.sum(xp.where(xp.isfinite(step), g * step, xp.zeros_like(step)))
    k0 = xp.where(
        xp.all(xp.isfinite(step)),
        xp.asarray(0, dtype=xp.int32, device=p.device),
        xp.asarray(40, dtype=xp.int32, device=p.device),
    )

    def halve(s: tuple) -> tuple:
        return (s[0] + 1, *_candidate(p, f, L, step, slope, sci, s[0] + 1))

    start = (k0, *_candidate(p, f, L, step, slope, sci, k0))
    _, f_new, ld_new, L_new, accepted, _ = p.loop(lambda s: ~s[5], halve, start)
    f_next = f_new - f_new[0]
    small_change = xp.max(xp.abs(f_next - f)) <= 1e-13 * (1.0 + xp.max(xp.abs(f_next)))
    f = xp.where(small, f, f_next)
    ld = xp.where(small, ld, ld_new - f_new[0])
    L = xp.where(small, L, L_new)
    return f, ld, L, it + 1, small | (accepted & small_change)


def _mbar_solver(be: Backend, tol: float, maxiter: int) -> Any:
    """The whole MBAR solve ``(u, NK, f0) -> (f, ld, iterations, converged)`` as one compiled program on JAX (its
    loops ``while_loop``s), Python loops elsewhere."""
    xp = be.xp

    def solve(u: Array, NK: Array, f0: Array) -> tuple[Array, ...]:
        p = _Problem(u, NK, tol, be)
        ld0, L0 = p.evaluate(f0)
        start = (f0, ld0, L0, xp.asarray(0, dtype=xp.int32, device=be.device), xp.asarray(False, device=be.device))
        f, ld, _, it, done = be.while_loop(lambda c: ~c[4] & (c[3] < maxiter), lambda c: _iterate(p, c), start)
        return f, ld, it, done

    return be.compiled(("free_energy", "mbar_solve", tol, maxiter), lambda: solve)


def _mbar_solve(
    u: Array, NK: Array, f0: Array, be: Backend, *, tol: float, maxiter: int
) -> tuple[Array, Array, int, bool]:
    """Minimize L(f) (gauge f_0 = 0); returns (f, ld, iterations, converged) (one host read after the solve)."""
    f, ld, it, converged = _mbar_solver(be, tol, maxiter)(u, NK, f0)
    return f, ld, int(it), bool(converged)


# ----------------------------------------------------------------------------------------------- entry
def _mbar_inputs(u_kn: Any, N_k: Any, f_k_init: Any, be: Backend) -> tuple[Array, list[int], Array | None]:
    """Validated reduced energies (K, N), host counts and initial f (K,) or None."""
    xp = be.xp
    if getattr(u_kn, "ndim", None) == 3 or (isinstance(u_kn, (list, tuple)) and _depth(u_kn) == 3):
        raise ValueError(
            "u_kn must have shape (K, N); pymbar's (K, L, N_max) u_kln layout is not accepted: convert it with "
            "pymbar.utils.kln_to_kn(u_kln, N_k) first"
        )
    u = as_points("u_kn", u_kn, be, ndim=2, finite=False)
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
        k, n = first_bad_index(bad, xp)
        value = float(be.to_numpy(u[k, n]))
        raise ValueError(f"u_kn has a non-finite reduced energy at index ({k}, {n}) (value {value})")
    f_init = None
    if f_k_init is not None:
        f_init = as_points("f_k_init", f_k_init, be, ndim=1)
        if tuple(f_init.shape) != (K,):
            raise ValueError(
                f"f_k_init must hold one free energy per state, shape ({K},); got shape {tuple(f_init.shape)}"
            )
    return u, Nk_host, f_init


def pymbar_aliases(
    f_k_init: Any, initial_f_k: Any, tol: Any, relative_tolerance: Any, maxiter: Any, maximum_iterations: Any
) -> tuple[Any, float, int]:
    """Resolve pymbar's keyword names (``initial_f_k``, ``relative_tolerance``, ``maximum_iterations``) against
    ours and validate tol/maxiter under the name the caller used."""
    if initial_f_k is not None:
        if f_k_init is not None:
            raise TypeError("pass f_k_init= or its pymbar name initial_f_k=, not both")
        f_k_init = initial_f_k
    tol_name, it_name = "tol", "maxiter"
    if relative_tolerance is not None:
        tol, tol_name = relative_tolerance, "relative_tolerance"
    if maximum_iterations is not None:
        maxiter, it_name = maximum_iterations, "maximum_iterations"
    return f_k_init, as_real(tol_name, tol, low=0.0, low_open=True), as_count(it_name, maxiter)


class MbarFit(NamedTuple):
    r"""One MBAR solve on validated input: reduced energies ``u`` (K, N), host counts, ``f`` (K,) with f_0 = 0,
    log-denominators ``ld`` (N,) in the same gauge (:math:`\log\sum_k N_k e^{f_k - u_{kn}}`), normalized log
    weights ``log_W`` (K, N), the sampled states' pieces for warm restarts, and the solver's report."""

    u: Array
    Nk_host: list[int]
    f: Array
    ld: Array
    log_W: Array
    us: Array
    NK: Array
    f_s: Array
    n_iterations: int
    converged: bool


def mbar_fit(u: Array, Nk_host: list[int], f_init: Array | None, be: Backend, tol: float, maxiter: int) -> MbarFit:
    """Solve MBAR on validated input (:func:`_mbar_inputs`); warns when the solver stops short."""
    xp = be.xp
    K = u.shape[0]
    sampled = [k for k in range(K) if Nk_host[k] > 0]
    s_idx = xp.asarray(sampled, dtype=xp.int64, device=be.device)
    us = xp.take(u, s_idx, axis=0)
    NK = xp.asarray([float(Nk_host[k]) for k in sampled], dtype=u.dtype, device=be.device)
    if f_init is None:
        f0 = xp.zeros((len(sampled),), dtype=u.dtype, device=be.device)
    else:
        f0 = xp.take(f_init, s_idx, axis=0)
        f0 = f0 - f0[0]
    f_s, ld, n_iter, converged = _mbar_solve(us, NK, f0, be, tol=tol, maxiter=maxiter)
    if not converged:
        warnings.warn(
            f"mbar: not converged to tol={tol} in {maxiter} iterations", FreeEnergyConvergenceWarning, stacklevel=3
        )
    # all states: f_k = -logsumexp_n(-u_kn - ld_n) (equals f_s on sampled states at convergence)
    f_all = -logsumexp(-u - ld[None, :], axis=1, xp=xp)
    f_all = xp.where(xp.asarray([v > 0 for v in Nk_host], device=be.device), _scatter(f_s, sampled, K, xp), f_all)
    shift = f_all[0]
    f_all = f_all - shift
    ld = ld - shift
    log_W = f_all[:, None] - u - ld[None, :]  # (K, N)
    return MbarFit(u, Nk_host, f_all, ld, log_W, us, NK, f_s, n_iter, converged)


def _mbar_resample(
    u: Array, us: Array, NK: Array, f_s: Array, Nk_host: list[int], gen: Generator, be: Backend, tol: float,
    maxiter: int,
) -> tuple[Array, Array, Array]:  # fmt: skip
    """One bootstrap resample (with replacement within each state's block of samples), solved warm-started at
    ``f_s``: (indices (N,), f_k - f_0 (K,), log-denominators shifted to the gauge f_0 = 0 (N,))."""
    xp = be.xp
    offsets = [sum(Nk_host[:k]) for k in range(len(Nk_host))]
    idx = xp.concat([gen.integers(0, n, (n,)) + offsets[k] for k, n in enumerate(Nk_host) if n > 0], axis=0)
    _, ldb, _, _ = _mbar_solve(xp.take(us, idx, axis=1), NK, f_s, be, tol=tol, maxiter=maxiter)
    fa = -logsumexp(-xp.take(u, idx, axis=1) - ldb[None, :], axis=1, xp=xp)
    return idx, fa - fa[0], ldb - fa[0]


def _mbar_bootstrap(
    u: Array, us: Array, NK: Array, f_s: Array, Nk_host: list[int], n_boot: int, gen: Generator, be: Backend,
    tol: float, maxiter: int,
) -> Array:  # fmt: skip
    """Standard deviation of f_k - f_0 over ``n_boot`` resamples (:func:`_mbar_resample`)."""
    reps = [_mbar_resample(u, us, NK, f_s, Nk_host, gen, be, tol, maxiter)[1] for _ in range(n_boot)]
    return std_over_first(be.xp.stack(reps, axis=0), be.xp)


@declare()
def mbar(
    u_kn: Any,
    N_k: Any,
    *,
    f_k_init: Any = None,
    tol: float = 1e-12,
    maxiter: int = 200,
    bootstrap: int | None = None,
    rng: Any = None,
    ess_warning: float = ESS_WARNING,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
    initial_f_k: Any = None,
    relative_tolerance: float | None = None,
    maximum_iterations: int | None = None,
) -> FreeEnergyEstimate:
    r"""Multistate Bennett acceptance ratio (MBAR; Shirts & Chodera 2008, arXiv:0801.1426): free energies
    :math:`f_k` relative to state 0.

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

    Parameters
    ----------
    u_kn : array, shape (K, N)
        Reduced energies, finite.
    N_k : sequence or array of K non-negative integers
        Samples drawn from each state, summing to N.
    f_k_init : array, shape (K,), optional
        Starting free energies (finite; pymbar's name ``initial_f_k`` is accepted).
    tol : float > 0
        Tolerance on :math:`\max_k|\sum_n W_{nk} - 1|` (pymbar's ``relative_tolerance`` is accepted in its place).
    maxiter : int >= 1
        Most solver iterations (a :class:`FreeEnergyConvergenceWarning` when reached; pymbar's
        ``maximum_iterations`` is accepted in its place).
    bootstrap : int >= 2, optional
        Number of bootstrap resamples (samples grouped by state in the order of ``N_k``); ``stderr`` is then
        their standard deviation.
    rng : None, int, numpy.random.Generator or transportkit Generator
        Randomness of the bootstrap (SPEC 7; ``seed=`` is its deprecated alias).
    ess_warning : float
        Warn (:class:`FreeEnergyDegenerateWeightsWarning`) when the Kish ESS of a sampled state's weights is below
        ``min(ess_warning, min N_k / 2)``, and (:class:`FreeEnergyOverlapWarning`) when the overlap scalar times N
        is below ``min(ess_warning, N/2)``; 0 disables both.
    backend : str or Backend, optional
        The backend (default: that of ``u_kn``).

    Returns
    -------
    FreeEnergyEstimate
        ``value`` (K,) = f_k - f_0, ``stderr`` (K,); ``diagnostics``: :class:`MbarDiagnostics` (``theta`` (K, K),
        ``dDelta_f`` (K, K) stderr of all differences f_j - f_i, ``ess`` (K,) Kish ESS of each state's weights
        (pymbar's ``compute_effective_sample_number``), ``overlap`` (1 - second-largest eigenvalue of the overlap
        matrix :math:`O = W^\top W \operatorname{diag}(N)`), ``n_iterations``, ``converged``).
    """
    refuse_lazy_inputs(u_kn=u_kn, N_k=N_k, f_k_init=f_k_init, initial_f_k=initial_f_k)
    f_k_init, tol, maxiter = pymbar_aliases(f_k_init, initial_f_k, tol, relative_tolerance, maxiter,
                                            maximum_iterations)  # fmt: skip
    threshold = check_threshold(ess_warning)
    be = resolve_backend(u_kn, backend=backend)
    gen = bootstrap_stream(check_bootstrap(bootstrap), rng, seed, be)
    xp = be.xp
    u, Nk_host, f_init = _mbar_inputs(u_kn, N_k, f_k_init, be)
    K = u.shape[0]
    sampled = [k for k in range(K) if Nk_host[k] > 0]
    s_idx = xp.asarray(sampled, dtype=xp.int64, device=be.device)
    fit = mbar_fit(u, Nk_host, f_init, be, tol, maxiter)
    f_all, log_W, us, NK, f_s = fit.f, fit.log_W, fit.us, fit.NK, fit.f_s
    n_iter, converged = fit.n_iterations, fit.converged
    W = xp.exp(log_W)
    Nfull = xp.asarray([float(v) for v in Nk_host], dtype=u.dtype, device=be.device)
    theta = _mbar_theta(W, Nfull, xp)
    d2 = _squared_differences(theta, xp)
    d2 = xp.where(d2 > 0, d2, xp.zeros_like(d2))
    dDelta = xp.sqrt(d2)
    n_eff = ess(log_W, axis=1, xp=xp)
    check_ess(xp.take(n_eff, s_idx, axis=0), min(Nk_host[k] for k in sampled), threshold, "mbar")
    overlap = _mbar_overlap(W, Nfull, xp)
    check_overlap(overlap, sum(Nk_host), threshold, "mbar")
    stderr = dDelta[0, :]
    diagnostics = MbarDiagnostics(
        theta=theta,
        dDelta_f=dDelta,
        f_k=f_all,
        ess=n_eff,
        overlap=overlap,
        n_iterations=n_iter,
        converged=converged,
        stderr_asymptotic=stderr,
        backend=be,
    )
    if gen is not None:
        stderr = _mbar_bootstrap(u, us, NK, f_s, Nk_host, bootstrap, gen, be, tol, maxiter)
    return FreeEnergyEstimate(f_all, stderr, diagnostics=diagnostics, backend=be)


# ----------------------------------------------------------------------------------------------- helpers
def _depth(x: Any) -> int:
    """Nesting depth of a list/tuple (0 for a scalar)."""
    d = 0
    while isinstance(x, (list, tuple)) and len(x) > 0:
        x, d = x[0], d + 1
    return d


def _host_counts(N_k: Any) -> list[int]:
    """Sample counts as Python ints, from a list or an array of any library (counts are metadata). Integral
    floats (``100.0``, as in pymbar's float ``N_k`` arrays) are accepted; bools, complex and non-integral values
    are not."""
    owner = owner_of(N_k)
    host = owner.to_numpy(N_k) if owner is not None else N_k
    kind = str(getattr(host, "dtype", ""))
    if "bool" in kind or "complex" in kind:
        raise TypeError(f"N_k must hold integer counts, got an array of {kind}")
    if hasattr(host, "tolist"):
        host = host.tolist()
    if not isinstance(host, (list, tuple)):
        host = [host]
    out = []
    for v in host:
        if isinstance(v, (bool, complex, str, bytes)) or not isinstance(v, (int, float)):
            raise TypeError(f"N_k must hold integer counts, got {v!r}")
        if not math.isfinite(v) or float(v) != int(v):
            raise ValueError(f"N_k must hold integer counts, got {v!r}")
        out.append(int(v))
    return out


def _scatter(values: Array, idx: list[int], K: int, xp: Any) -> Array:
    """Length-K array with ``values`` at positions ``idx`` and 0 elsewhere (no in-place writes)."""
    pos = {k: i for i, k in enumerate(idx)}
    zero = xp.zeros((1,), dtype=values.dtype, device=values.device)
    return xp.concat([values[pos[k] : pos[k] + 1] if k in pos else zero for k in range(K)])
