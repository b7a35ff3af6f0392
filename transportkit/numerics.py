"""Numerical helpers shared by the whole library, in the Array API only.

Every function takes arrays of any backend (Python lists and numbers are taken as NumPy float64 arrays, as SciPy
does); pass ``xp`` when it is already known (inside algorithms) so the namespace is not looked up again. Lazy
(dask) arrays are refused with a ``TypeError``: these helpers would return lazy results the rest of the library
cannot use (see docs/backends.md).
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace
from array_api_compat import device as _device

from ._typing import Array
from ._validation import refuse_lazy

__all__ = [
    "cholesky_solve",
    "ess",
    "legendre_shifted",
    "log1mexp",
    "logmeanexp",
    "logsumexp",
    "normalized_weights",
]


def _prepare(name: str, a: Any, xp: Any) -> tuple[Any, Any]:
    """``(a, xp)``: dask refused; Python lists, tuples and numbers as NumPy float64 arrays; ``xp`` looked up."""
    refuse_lazy(name, a)
    if isinstance(a, (list, tuple, int, float)) and not isinstance(a, bool):
        from . import backends

        host = backends.load("numpy")
        a = host.asarray(a, host.namespace().float64, "cpu")
    return a, (array_namespace(a) if xp is None else xp)


def logsumexp(
    a: Any, axis: int | tuple[int, ...] | None = None, *, keepdims: bool = False, xp: Any = None
) -> Array:
    """log sum_i exp(a_i), computed as m + log sum_i exp(a_i - m) with m = max_i a_i.

    Stable for entries of any magnitude; entries equal to ``-inf`` contribute nothing, and a slice that is
    all ``-inf`` gives ``-inf`` (not NaN). ``+inf`` entries give ``+inf``; NaN propagates.
    A reduction over no entries (an empty axis) gives ``-inf`` (the log of an empty sum), as
    :func:`scipy.special.logsumexp` does.
    """
    a, xp = _prepare("a", a, xp)
    axes = _axes(axis, a.ndim)
    if any(a.shape[i] == 0 for i in axes):
        shape = tuple(1 if i in axes else s for i, s in enumerate(a.shape)) if keepdims else tuple(
            s for i, s in enumerate(a.shape) if i not in axes)
        dtype = a.dtype if xp.isdtype(a.dtype, "real floating") else xp.float64
        return xp.full(shape, -math.inf, dtype=dtype, device=_device(a))
    m = xp.max(a, axis=axis, keepdims=True)
    m_safe = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    finite = xp.isfinite(m)
    shifted = xp.where(finite, a - m_safe, xp.where(m == -math.inf, a, xp.zeros_like(a)))
    s = xp.sum(xp.exp(shifted), axis=axis, keepdims=True)
    positive = s > 0
    out = xp.where(positive, xp.log(xp.where(positive, s, xp.ones_like(s))) + m_safe, -math.inf)
    out = xp.where(finite | (m == -math.inf), out, m)  # +inf and NaN slices pass through
    if not keepdims:
        out = xp.squeeze(out, axis=_axes(axis, a.ndim)) if a.ndim else out
    return out


def _axes(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """The reduced axes, as non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if ndim == 0:
        return ()
    return tuple(int(i) % ndim for i in axes)


def logmeanexp(
    a: Any, axis: int | tuple[int, ...] | None = None, *, keepdims: bool = False, xp: Any = None
) -> Array:
    """log( (1/n) sum_i exp(a_i) ) = logsumexp(a) - log n, with n the number of entries reduced over (an empty
    reduction, whose mean is undefined, is a ``ValueError``)."""
    a, xp = _prepare("a", a, xp)
    n = math.prod(a.shape[i] for i in _axes(axis, a.ndim)) if a.ndim else 1
    if n == 0:
        raise ValueError("logmeanexp of an empty array")
    return logsumexp(a, axis=axis, keepdims=keepdims, xp=xp) - math.log(n)


def normalized_weights(log_w: Any, axis: int = -1, *, xp: Any = None) -> Array:
    """w_i = exp(log_w_i - logsumexp(log_w)): weights summing to one, stable for any magnitude."""
    log_w, xp = _prepare("log_w", log_w, xp)
    return xp.exp(log_w - logsumexp(log_w, axis=axis, keepdims=True, xp=xp))


def ess(log_w: Any, axis: int = -1, *, relative: bool = False, xp: Any = None) -> Array:
    """Kish effective sample size (sum w)^2 / sum w^2 = exp(2 logsumexp(log w) - logsumexp(2 log w)).

    Between 1 and n; ``relative=True`` divides by n. No weights at all (an empty axis) is a ``ValueError``.
    """
    log_w, xp = _prepare("log_w", log_w, xp)
    if log_w.ndim == 0 or log_w.shape[axis] == 0:
        raise ValueError(f"ess needs at least one weight along axis {axis}, got shape {tuple(log_w.shape)}")
    out = xp.exp(2.0 * logsumexp(log_w, axis=axis, xp=xp) - logsumexp(2.0 * log_w, axis=axis, xp=xp))
    return out / log_w.shape[axis] if relative else out


def log1mexp(x: Any, *, xp: Any = None) -> Array:
    """log(1 - exp(x)) for x <= 0, accurate everywhere (Maechler 2012):

    log(-expm1(x)) for -log 2 < x <= 0, and log1p(-exp(x)) for x <= -log 2. Gives -inf at x = 0 and 0 at
    x = -inf; NaN for x > 0.
    """
    x, xp = _prepare("x", x, xp)
    near = (x > -math.log(2.0)) & (x < 0)
    x_near = xp.where(near, x, xp.full_like(x, -1.0))
    x_far = xp.where(near | (x >= 0), xp.full_like(x, -1.0), x)
    out = xp.where(near, xp.log(-xp.expm1(x_near)), xp.log1p(-xp.exp(x_far)))
    out = xp.where(x == 0, xp.full_like(x, -math.inf), out)
    return xp.where(x > 0, xp.full_like(x, math.nan), out)


def cholesky_solve(a: Any, b: Any, *, xp: Any = None, return_logdet: bool = False) -> Array | tuple[Array, Array]:
    """Solve A x = b for symmetric positive-definite A by its Cholesky factor A = L L^T, batched.

    ``a`` has shape (..., n, n); ``b`` has shape (..., n) or (..., n, k) (batch dimensions broadcast).
    With ``return_logdet`` also returns log det A = 2 sum_i log L_ii. A matrix that is not positive definite
    is a ``ValueError``.
    """
    refuse_lazy("a", a)
    refuse_lazy("b", b)
    xp = array_namespace(a, b) if xp is None else xp
    try:
        L = xp.linalg.cholesky(a)
    except Exception as exc:  # NumPy LinAlgError, torch _LinAlgError
        raise ValueError(f"cholesky_solve: matrix is not positive definite ({exc})") from None
    diag = xp.linalg.diagonal(L)
    if not bool(xp.all(diag > 0)):  # NumPy/JAX return NaN, torch raises: unify to ValueError
        raise ValueError("cholesky_solve: matrix is not positive definite")
    vec = b.ndim == a.ndim - 1
    rhs = b[..., None] if vec else b
    y = xp.linalg.solve(L, rhs)
    x = xp.linalg.solve(xp.linalg.matrix_transpose(L), y)
    x = x[..., 0] if vec else x
    if return_logdet:
        return x, 2.0 * xp.sum(xp.log(diag), axis=-1)
    return x


def legendre_shifted(t: Any, degree: int) -> list[Any]:
    r"""The shifted Legendre polynomials :math:`P_0(2t-1), \dots, P_{\mathrm{degree}}(2t-1)`, orthogonal on
    :math:`[0, 1]`, by Bonnet's three-term recurrence :math:`(k+1)P_{k+1}(s) = (2k+1)sP_k(s) - kP_{k-1}(s)`
    (Abramowitz & Stegun 1964, 22.7.10). ``t``: a Python float or an array of any shape (each result has its shape).
    """
    s = 2.0 * t - 1.0
    out = [s * 0.0 + 1.0]
    if degree >= 1:
        out.append(s)
    for k in range(1, degree):
        out.append(((2 * k + 1) * s * out[k] - k * out[k - 1]) / (k + 1))
    return out
