r"""The Bennett acceptance ratio equation in log space: its terms, the safeguarded Newton solve (one compiled program
on JAX) and the standard errors, ESS and overlap at the root (Bennett 1976, J. Comput. Phys. 22, 245; Shirts &
Chodera 2008, J. Chem. Phys. 129, 124105, arXiv:0801.1426). :func:`~transportkit.free_energy.bar` is the entry."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend
from ..numerics import ess, logsumexp
from ._checks import logaddexp, lse12, softplus
from .diagnostics import Array, FreeEnergyConvergenceWarning

__all__ = ["bar_stats", "solve_bar"]


def _bar_terms(wf: Array, wr: Array, M: Array, D: Array, xp: Any) -> tuple[Array, Array, Array, Array]:
    """Log-space pieces of the BAR equation at ΔF = D (batched over leading axes).

    With f(x) = 1/(1+e^x): a_i = M + W_F,i - D, b_j = -M + W_R,j + D; returns
    (lse log f(a), lse 2 log f(a), lse log f(b), lse 2 log f(b)).
    """
    a = M[..., None] + wf - D[..., None]
    b = wr - M[..., None] + D[..., None]
    f1, f2 = lse12(-softplus(a, xp), xp)
    r1, r2 = lse12(-softplus(b, xp), xp)
    return f1, f2, r1, r2


def _bar_h(wf: Array, wr: Array, M: Array, D: Array, xp: Any) -> tuple[Array, Array]:
    """h(D) = log sum_F f(a) - log sum_R f(b) (increasing in D) and h'(D) =
    (1 - sum f(a)^2 / sum f(a)) + (1 - sum f(b)^2 / sum f(b))."""
    f1, f2, r1, r2 = _bar_terms(wf, wr, M, D, xp)
    return f1 - r1, (1.0 - xp.exp(f2 - f1)) + (1.0 - xp.exp(r2 - r1))


def _bar_bracket(wf: Array, wr: Array, xp: Any, while_loop: Callable) -> tuple[Array, ...]:
    """M = log(n_F/n_R) and a bracket [lo, hi] of the root with h there: started at the two EXP estimates and, where
    it does not bracket, widened outward (by its width + 1, so the width doubles) until it does (h -> -inf/+inf
    linearly at -inf/+inf; at most 2000 widenings)."""
    nF, nR = wf.shape[-1], wr.shape[-1]
    upper = -(logsumexp(-wf, axis=-1, xp=xp) - math.log(nF))  # EXP forward
    lower = logsumexp(-wr, axis=-1, xp=xp) - math.log(nR)  # -EXP reverse
    M = upper * 0.0 + math.log(nF / nR)
    lo, hi = xp.minimum(lower, upper), xp.maximum(lower, upper)
    h_lo, h_hi = _bar_h(wf, wr, M, lo, xp)[0], _bar_h(wf, wr, M, hi, xp)[0]

    def unbracketed(c: tuple) -> Array:
        return xp.logical_and(xp.any((c[2] > 0) | (c[3] < 0)), c[4] < 2000)

    def widen(c: tuple) -> tuple:
        lo, hi, h_lo, h_hi, k = c
        bad_lo, bad_hi = h_lo > 0, h_hi < 0
        width = hi - lo + 1.0
        lo = xp.where(bad_lo, lo - width, lo)
        hi = xp.where(bad_hi, hi + width, hi)
        h_lo = xp.where(bad_lo, _bar_h(wf, wr, M, lo, xp)[0], h_lo)
        h_hi = xp.where(bad_hi, _bar_h(wf, wr, M, hi, xp)[0], h_hi)
        return lo, hi, h_lo, h_hi, k + 1

    lo, hi, h_lo, h_hi, _ = while_loop(unbracketed, widen, (lo, hi, h_lo, h_hi, xp.zeros((), dtype=xp.int32)))
    return M, lo, hi, h_lo, h_hi


def _bar_first(lo: Array, hi: Array, h_lo: Array, h_hi: Array, xp: Any) -> Array:
    """Start from the false-position point of the bracket."""
    denom = h_hi - h_lo
    safe = denom > 0
    D = xp.where(safe, lo - h_lo * (hi - lo) / xp.where(safe, denom, xp.ones_like(denom)), (lo + hi) / 2)
    D = xp.where((D > lo) & (D < hi), D, (lo + hi) / 2)
    return xp.where(h_lo == 0, lo, xp.where(h_hi == 0, hi, D))


def _bar_newton(wf: Array, wr: Array, M: Array, c: tuple, xp: Any, rtol: float) -> tuple:
    """One safeguarded Newton step on the carry (D, lo, hi, |h| before, converged, h, dh, it, done): evaluate h at D
    (kept where converged), shrink the bracket, take the Newton point if it lies inside the bracket and |h| halved
    since the last step, else bisect; mark converged entries."""
    D, lo, hi, prev_abs, converged, h, dh, it, _ = c
    h_new, dh_new = _bar_h(wf, wr, M, D, xp)
    h = xp.where(converged, h, h_new)
    dh = xp.where(converged, dh, dh_new)
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
    return D, lo, hi, xp.abs(h), converged, h, dh, it + 1, xp.all(converged)


def _bar_solver(be: Backend, rtol: float, maxiter: int) -> Callable[[Array, Array], tuple[Array, ...]]:
    """The whole BAR solve (bracket, false position, safeguarded Newton), vectorized over leading (batch) axes, as
    one function ``(wf, wr) -> (ΔF, M, iterations, converged, bracketed)``: one compiled program on JAX (its loops
    ``while_loop``s), Python loops elsewhere."""
    xp = be.xp

    def solve(wf: Array, wr: Array) -> tuple[Array, ...]:
        M, lo, hi, h_lo, h_hi = _bar_bracket(wf, wr, xp, be.while_loop)
        D = _bar_first(lo, hi, h_lo, h_hi, xp)
        nan = xp.full_like(D, math.nan)
        no = xp.zeros(D.shape, dtype=xp.bool, device=be.device)
        carry = (D, lo, hi, xp.full_like(D, math.inf), no, nan, nan, xp.zeros((), dtype=xp.int32), xp.all(no))

        def going(c: tuple) -> Array:
            return xp.logical_and(xp.logical_not(c[8]), c[7] < maxiter)

        out = be.while_loop(going, lambda c: _bar_newton(wf, wr, M, c, xp, rtol), carry)
        bracketed = xp.logical_not(xp.any((h_lo > 0) | (h_hi < 0)))
        return out[0], M, out[7], out[8], bracketed

    return be.compiled(("free_energy", "bar_solve", rtol, maxiter), lambda: solve)


def solve_bar(wf: Array, wr: Array, be: Backend, rtol: float, maxiter: int) -> tuple[Array, Array, int]:
    """(ΔF, M, iterations) of the BAR equation; warns when not converged (one host read after the solve)."""
    D, M, it, done, bracketed = _bar_solver(be, rtol, maxiter)(wf, wr)
    if not bool(bracketed):
        raise RuntimeError("bar: could not bracket the root")  # pragma: no cover
    if not bool(done):
        warnings.warn(f"bar: not converged after {maxiter} iterations", FreeEnergyConvergenceWarning, stacklevel=3)
    return D, M, int(it)


def bar_stats(wf: Array, wr: Array, M: Array, D: Array, *, xp: Any, method: str) -> tuple[Array, ...]:
    """Standard error of BAR (pymbar's formulas), Kish ESS of the EXP and of the Fermi weights, and the MBAR
    overlap of the two states, batched."""
    nF, nR = wf.shape[-1], wr.shape[-1]
    f1, f2, r1, r2 = _bar_terms(wf, wr, M, D, xp)
    if method == "BAR":
        # <f_F^2>/(n_F <f_F>^2) + <f_R^2>/(n_R <f_R>^2) - (n_F + n_R)/(n_F n_R)
        var = xp.exp(f2 - 2 * f1) + xp.exp(r2 - 2 * r1) - (1.0 / nF + 1.0 / nR)
    else:  # "MBAR"
        vt = (xp.exp(f1) - xp.exp(f2)) + (xp.exp(r1) - xp.exp(r2))
        pos = vt > 0
        var = xp.where(pos, 1.0 / xp.where(pos, vt, xp.ones_like(vt)), xp.full_like(vt, math.inf))
        var = var - (1.0 / nF + 1.0 / nR)
    var = xp.where(var > 0, var, xp.zeros_like(var))
    # Kish ESS of the Fermi weights f(M + W_F - ΔF) of forward samples (and reverse), from the sums above
    ess_f = xp.exp(2 * f1 - f2)
    ess_r = xp.exp(2 * r1 - r2)
    # MBAR overlap of the two states (1 - second eigenvalue of the 2x2 overlap matrix):
    # O_01 + O_10 = (n_F + n_R) sum_n W_n0 W_n1, W_nk = e^{f_k - u_kn} / sum_j N_j e^{f_j - u_jn}.
    # forward sample (u0 = 0, u1 = W_F): W_n0 W_n1 = e^{ΔF - W} / (n_F + n_R e^{ΔF - W})^2, reverse similar.
    lF, lR = math.log(nF), math.log(nR)
    xf = D[..., None] - wf
    xr = -D[..., None] - wr  # reverse sample: u0 = W_R, u1 = 0: e^{ΔF - W_R}/(n_F e^{-W_R} + n_R e^{ΔF})^2
    ldf = logaddexp(xp.zeros_like(xf) + lF, xf + lR, xp)
    ldr = logaddexp(xr + (lF + 0.0), xp.zeros_like(xr) + lR, xp)
    # reverse term: e^{D - W_R - 2 log(n_F e^{-W_R} + n_R e^{D})}; divide num and den by e^{2D}
    tf = logsumexp(xf - 2 * ldf, axis=-1, xp=xp)
    tr = logsumexp(xr - 2 * ldr, axis=-1, xp=xp)
    overlap = (nF + nR) * xp.exp(logaddexp(tf, tr, xp))
    return xp.sqrt(var), ess_f, ess_r, overlap, ess(-wf, xp=xp), ess(-wr, xp=xp)
