r"""The asymptotic covariance of MBAR and what is read from it (Shirts & Chodera 2008, arXiv:0801.1426, Appendix
D): :math:`\Theta` over the sampled states augmented by new ones (perturbed states, states times a positive
observable, histogram bins), pymbar's ``"svd-ew"``, ``"svd"`` and ``"approximate"`` (Kong et al. 2003) forms, the
standard errors of differences, and the overlap spectrum. Pure Array-API functions of arrays (``xp`` and ``device``
passed in), so that :class:`~transportkit.free_energy.MBAR` compiles them as one program on JAX.

References
----------
- M. R. Shirts, J. D. Chodera, J. Chem. Phys. 129, 124105 (2008), arXiv:0801.1426.
- A. Kong, P. McCullagh, X.-L. Meng, D. Nicolae, Z. Tan, J. R. Statist. Soc. B 65, 585 (2003).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..numerics import logsumexp
from .diagnostics import Array, FreeEnergyUncertaintyWarning


def _mbar_theta(W: Array, NK: Array, xp: Any, device: Any = None) -> Array:
    """pymbar's 'svd-ew' asymptotic covariance from W (K, N) and N_k (``device``: where the arrays live; given
    explicitly inside compiled programs, whose traced arrays do not carry one)."""
    K = W.shape[0]
    device = W.device if device is None else device
    S2, V = xp.linalg.eigh(W @ xp.matrix_transpose(W))
    S = xp.sqrt(xp.where(S2 > 0, S2, xp.zeros_like(S2)))
    VS = V * S[None, :]
    eye = xp.eye(K, dtype=W.dtype, device=device)
    A = eye - xp.matrix_transpose(VS) @ (NK[:, None] * VS)
    return VS @ xp.linalg.pinv(A, rtol=1e-10) @ xp.matrix_transpose(VS)


def _overlap_spectrum(W: Array, NK: Array, xp: Any) -> tuple[Array, Array, Array]:
    r"""(overlap scalar, eigenvalues in descending order, :math:`W W^\top`) of the overlap matrix
    :math:`O = W W^\top \operatorname{diag}(N)`, the eigenvalues real, from the symmetric similar matrix
    :math:`N^{1/2} W W^\top N^{1/2}`; the scalar is 1 - the second-largest eigenvalue (1 for K = 1)."""
    G = W @ xp.matrix_transpose(W)
    r = xp.sqrt(NK)
    ev = xp.flip(xp.linalg.eigvalsh(r[:, None] * G * r[None, :]))
    scalar = 1.0 - ev[1] if W.shape[0] > 1 else xp.asarray(1.0, dtype=G.dtype, device=G.device)
    return scalar, ev, G


def _mbar_overlap(W: Array, NK: Array, xp: Any) -> Array:
    """1 - second-largest eigenvalue of O = W W^T diag(N)."""
    return _overlap_spectrum(W, NK, xp)[0]


def _error_of_differences(d2: Array, cutoff: float, xp: Any) -> Array:
    r"""Standard errors :math:`\sqrt{d^2}` of all differences from their squares :math:`C_{ii} + C_{jj} - 2C_{ij}`;
    round-off negatives above ``-cutoff`` set to 0, larger negatives reported as NaN with a
    :class:`FreeEnergyUncertaintyWarning`."""
    if bool(xp.any(d2 < -abs(cutoff))):
        warnings.warn(
            f"a squared uncertainty is negative (largest magnitude {-float(xp.min(d2)):.3g}); reported as NaN",
            FreeEnergyUncertaintyWarning,
            stacklevel=3,
        )
    d2 = xp.where((d2 < 0) & (d2 >= -abs(cutoff)), xp.zeros_like(d2), d2)
    return xp.where(d2 >= 0, xp.sqrt(xp.where(d2 >= 0, d2, xp.zeros_like(d2))), xp.full_like(d2, math.nan))


def _theta(W: Array, N: Array, method: str, xp: Any, device: Any) -> Array:
    """Asymptotic covariance of the log normalizing constants from weights ``W`` (M, N_samples) and counts ``N``
    (M,): pymbar's ``"svd-ew"`` (eigen-decomposition of W W^T; also used for ``"bootstrap"``), ``"svd"`` (SVD of
    W) or ``"approximate"`` (W W^T, Kong et al. 2003)."""
    if method == "approximate":
        return W @ xp.matrix_transpose(W)
    if method == "svd":
        _, S, Vt = xp.linalg.svd(xp.matrix_transpose(W), full_matrices=False)
        VS = xp.matrix_transpose(Vt) * S[None, :]
        eye = xp.eye(W.shape[0], dtype=W.dtype, device=device)
        A = eye - xp.matrix_transpose(VS) @ (N[:, None] * VS)
        return VS @ xp.linalg.pinv(A, rtol=1e-10) @ xp.matrix_transpose(VS)
    return _mbar_theta(W, N, xp, device)


def _squared_differences(cov: Array, xp: Any) -> Array:
    """:math:`C_{ii} + C_{jj} - 2C_{ij}` for all i, j."""
    d = xp.linalg.diagonal(cov)
    return d[:, None] + d[None, :] - 2 * cov


def _new_states(u_ln: Array, ld: Array, xp: Any) -> tuple[Array, Array]:
    """(f_l (L,), log W_l (L, N)) of new states given the log-denominators ``ld``."""
    f = -logsumexp(-u_ln - ld[None, :], axis=1, xp=xp)
    return f, f[:, None] - u_ln - ld[None, :]


def _observables(A: Array, u_ln: Array, ld: Array, xp: Any) -> tuple[Array, ...]:
    """Expectations of the rows of ``A`` (S, N) in the states of ``u_ln`` (S, N), row by row, as ratios of
    normalizing constants: (mu (S,), log W_A (S, N), log W_l (S, N), shift (S,))."""
    _, logW_l = _new_states(u_ln, ld, xp)
    Amin = xp.min(A, axis=1)
    shift = Amin - xp.abs(4.0 * 2.220446049250313e-16 * Amin)
    logW_A = _positive_log(A - shift[:, None], xp) + logW_l
    f_A = -logsumexp(logW_A, axis=1, xp=xp)
    return xp.exp(-f_A) + shift, logW_A + f_A[:, None], logW_l, shift


def _augmented_theta(log_W: Array, Nf: Array, extra: Array, *, method: str, xp: Any, device: Any) -> Array:
    """Θ over the K states of ``log_W`` followed by the rows of ``extra`` (log weights, zero counts)."""
    W = xp.exp(xp.concat([log_W, extra], axis=0))
    N = xp.concat([Nf, xp.zeros_like(extra[:, 0])])
    return _theta(W, N, method, xp, device)


def _fe_kernel(log_W: Array, Nf: Array, *, method: str, xp: Any, device: Any) -> tuple[Array, Array]:
    """(Θ (K, K), squared stderr of all differences)."""
    T = _theta(xp.exp(log_W), Nf, method, xp, device)
    return T, _squared_differences(T, xp)


def _expectations_kernel(
    log_W: Array, Nf: Array, ld: Array, A: Array, u_ln: Array, *, method: str, xp: Any, device: Any
) -> tuple[Array, Array, Array]:
    """(mu (L,), pymbar's Θ block (2L, 2L) scaled by the shifted averages, cov of the averages (L, L))."""
    K, L = log_W.shape[0], u_ln.shape[0]
    mu, logW_A, logW_l, shift = _observables(A, u_ln, ld, xp)
    T = _augmented_theta(log_W, Nf, xp.concat([logW_l, logW_A], axis=0), method=method, xp=xp, device=device)
    T = xp.concat([xp.concat([T[K + L :, K + L :], T[K + L :, K : K + L]], axis=1),
                   xp.concat([T[K : K + L, K + L :], T[K : K + L, K : K + L]], axis=1)], axis=0)  # fmt: skip
    a = mu - shift
    d = xp.concat([a, a])
    theta = d[:, None] * T * d[None, :]
    covA = theta[:L, :L] + theta[L:, L:] - theta[:L, L:] - theta[L:, :L]
    return mu, theta, covA


def _perturbed_kernel(
    log_W: Array, Nf: Array, ld: Array, u_ln: Array, *, method: str, xp: Any, device: Any
) -> tuple[Array, Array]:
    """(f_l (L,), squared stderr of all differences (L, L))."""
    K = log_W.shape[0]
    f, logW = _new_states(u_ln, ld, xp)
    T = _augmented_theta(log_W, Nf, logW, method=method, xp=xp, device=device)[K:, K:]
    return f, _squared_differences(T, xp)


def _positive_log(x: Array, xp: Any) -> Array:
    """log(x) for x >= 0, with log 0 = -inf and no floating-point warning."""
    pos = x > 0
    return xp.where(pos, xp.log(xp.where(pos, x, xp.ones_like(x))), xp.full_like(x, -math.inf))
