r"""The Dirac–Frenkel least-squares step of Neural Galerkin schemes: :math:`\dot\theta` from sampled Jacobians.

With samples :math:`x_1..x_n` of the measure :math:`\nu` and :math:`J_{jk} = \partial_{\theta_k}u(x_j;\theta)`, the
parameter velocity is the regularized least-squares solution
:math:`\dot\theta = \arg\min_v \tfrac1n\|Jv - f\|^2 + \lambda\|v\|^2` (Bruna, Peherstorfer & Vanden-Eijnden,
"Neural Galerkin schemes with active learning for high-dimensional evolution equations", J. Comput. Phys. 2024,
arXiv:2203.01360), computed by a truncated, damped SVD (see :func:`lstsq_arrays`), or, where the ridge makes
them as accurate as the regularized problem itself, by the normal equations (:func:`normal_lstsq`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from array_api_compat import array_namespace

from .._backend import resolve_backend
from .._typing import Array
from .._validation import as_bool, as_points, as_real

__all__ = ["LstsqInfo", "galerkin_velocity", "lstsq_arrays", "normal_lstsq", "regularized_lstsq", "velocity_arrays"]

#: :func:`normal_lstsq` solves the normal equations only when :math:`n\lambda` exceeds the rounding of
#: :math:`J^TJ` (:math:`\epsilon\|J\|_F^2`) by this factor; otherwise it falls back to the SVD
NORMAL_MARGIN = 1e4


@dataclasses.dataclass
class LstsqInfo:
    """Diagnostics of one least-squares solve: numerical rank, condition number of the kept part, residual
    :math:`\\|Jv - f\\|/\\|f\\|` (0 when ``f = 0``)."""

    rank: int
    cond: float
    residual: float


def lstsq_arrays(J: Any, f: Any, *, rcond: float = 1e-10, ridge: float = 0.0,
                 scale_columns: bool = False) -> tuple[Any, tuple[Any, Any, Any]]:
    r""":func:`regularized_lstsq` with the diagnostics as 0-d arrays ``(rank, cond, residual)``.

    Parameters
    ----------
    J, f
        ``(n, p)`` and ``(n,)`` arrays.
    rcond, ridge, scale_columns
        as in :func:`regularized_lstsq`.

    Notes
    -----
    No value leaves the array library (no ``float()``/``int()``, no data-dependent Python branch), so the
    function can be traced by a just-in-time compiler (``Backend.maybe_jit``).
    """
    xp = array_namespace(J, f)
    if isinstance(rcond, (int, float)) and isinstance(ridge, (int, float)) and (rcond < 0 or ridge < 0):
        raise ValueError(f"rcond and ridge must be >= 0, got {rcond}, {ridge}")
    n = J.shape[0]
    J = xp.where(xp.isfinite(J), J, xp.zeros_like(J))
    f = xp.where(xp.isfinite(f), f, xp.zeros_like(f))
    if scale_columns:
        D = xp.linalg.vector_norm(J, axis=0)
        D = xp.where(D > 0, D, xp.ones_like(D))
        Js = J / D
    else:
        D = None
        Js = J
    if n >= 2 * Js.shape[1]:
        # tall J: thin QR first, then the SVD of the small (p, p) factor R = U_R S V^T, so U^T f = U_R^T Q^T f
        Q, R = xp.linalg.qr(Js)
        UR, S, Vh = xp.linalg.svd(R, full_matrices=False)
        Utf = UR.T @ (Q.T @ f)
    else:
        U, S, Vh = xp.linalg.svd(Js, full_matrices=False)
        Utf = U.T @ f
    if S.shape[0] > 0:
        smax = xp.max(S)
    else:  # pragma: no cover - p = 0
        smax = xp.asarray(0.0, dtype=J.dtype)
    # all False when J = 0 (smax = 0) or when its SVD failed (smax not finite)
    keep = (S > rcond * smax) & (S > 1e-150) & xp.isfinite(smax)
    safe = xp.where(keep, S, xp.ones_like(S))
    filt = xp.where(keep, safe / (safe**2 + n * ridge), xp.zeros_like(S))
    v = Vh.T @ (filt * Utf)
    if D is not None:
        v = v / D
    rank = xp.sum(xp.astype(keep, J.dtype))  # counted in the floating dtype (no int64 in JAX's 32-bit mode)
    smin = xp.min(xp.where(keep, S, xp.full_like(S, xp.inf)))
    ok = (rank > 0) & (smin > 0) & xp.isfinite(smin)
    cond = xp.where(ok, smax / xp.where(ok, smin, xp.ones_like(smin)), xp.full_like(smax, xp.inf))
    fn = xp.linalg.vector_norm(f)
    rn = xp.linalg.vector_norm(J @ v - f)
    res = xp.where(fn > 0, rn / xp.where(fn > 0, fn, xp.ones_like(fn)), xp.zeros_like(fn))
    return v, (rank, cond, res)


def normal_lstsq(J: Any, f: Any, *, rcond: float = 1e-10, ridge: float = 0.0, loops: Any = None) -> Array:
    r"""The velocity of :func:`lstsq_arrays` (no diagnostics) through the regularized normal equations where that is
    safe, else through the SVD.

    With :math:`\lambda` = ``ridge`` :math:`> 0` the minimizer of :math:`\|Jv - f\|^2 + n\lambda\|v\|^2` solves
    :math:`(J^TJ + n\lambda I)v = J^Tf`, a :math:`p\times p` system (for the KdV benchmark, :math:`30\times30`
    instead of a :math:`512\times30` QR and an SVD). Solving it is backward stable for the matrix
    :math:`G = J^TJ + n\lambda I`: the computed :math:`v` is the exact minimizer for a Gram matrix perturbed by about
    :math:`\epsilon\|J\|_F^2` (forming and factoring :math:`G` in the working precision :math:`\epsilon`), i.e. of a
    ridge problem whose regularization differs from :math:`n\lambda I` by that much. It is used only when
    :math:`n\lambda \ge` :data:`NORMAL_MARGIN` :math:`\cdot\,\epsilon\|J\|_F^2` (a cheap bound: :math:`\|J\|_F^2
    \ge \sigma_{\max}^2`) and the solution is finite; otherwise — ``ridge = 0``, a tiny ridge, float32 with the
    usual ridges, non-finite input — the truncated, damped SVD of :func:`lstsq_arrays` gives ``v`` (a ``while``
    loop of ``loops`` that runs once or not at all, so the choice compiles on JAX). The ``rcond`` truncation then
    applies only on the SVD route: on the normal-equations route singular values below ``rcond``
    :math:`\cdot\sigma_{\max}` are damped by the ridge (weight :math:`\sigma/(\sigma^2 + n\lambda)`), not dropped.

    Parameters
    ----------
    J, f
        ``(n, p)`` and ``(n,)`` arrays (non-finite entries read as 0, as in :func:`lstsq_arrays`).
    rcond, ridge
        as in :func:`regularized_lstsq` (``ridge`` a Python number).
    loops
        a :class:`~transportkit._loops.Loops` (``None``: Python loops).
    """
    xp = array_namespace(J, f)
    rcond, ridge = float(rcond), float(ridge)  # NumPy scalars too (array_api_strict refuses them in arithmetic)
    if not ridge > 0:
        return lstsq_arrays(J, f, rcond=rcond, ridge=ridge)[0]
    if loops is None:
        from .._loops import Loops

        loops = Loops(resolve_backend(J, f), False)
    n, p = J.shape
    G = J.T @ J
    nl = n * float(ridge)
    eye = xp.eye(p, dtype=J.dtype, device=getattr(J, "device", None))
    v = xp.linalg.solve(G + nl * eye, (J.T @ f)[:, None])[:, 0]
    # tr G = ||J||_F^2; False when J has non-finite entries (NaN or inf trace): the SVD route reads them as 0.
    # (A test of v itself would also catch a non-finite f, but on XLA's CPU runtime it doubles the cost of the stage.)
    ok = nl >= NORMAL_MARGIN * xp.finfo(J.dtype).eps * xp.linalg.trace(G)
    ok = ok & xp.isfinite(xp.sum(f))

    def svd_route(c: tuple) -> tuple:
        return xp.ones_like(c[0]), lstsq_arrays(J, f, rcond=rcond, ridge=ridge)[0]

    return loops.while_loop(lambda c: ~c[0], svd_route, (ok, v))[1]


def _info(diag: tuple[Any, Any, Any]) -> LstsqInfo:
    rank, cond, res = diag
    return LstsqInfo(rank=int(rank), cond=float(cond), residual=float(res))


def regularized_lstsq(J: Any, f: Any, *, rcond: float = 1e-10, ridge: float = 0.0,
                      scale_columns: bool = False) -> tuple[Any, LstsqInfo]:
    r"""Solve :math:`\min_v \|Jv - f\|^2 + n\lambda\|v\|^2` by truncated, damped SVD (see the module docstring).

    ``J`` ``(n, p)``, ``f`` ``(n,)``; returns ``(v (p,), LstsqInfo)``. With ``scale_columns`` the solve is done
    in the variables :math:`D v` with :math:`D = \mathrm{diag}(\|J_{:,k}\|)` (zero columns get
    :math:`D_{kk} = 1`), which makes ``rcond`` independent of the parameter units; ``ridge`` then acts on
    :math:`Dv`. Non-finite entries of ``J`` and ``f`` are replaced by 0. ``J`` must be a non-empty real 2-D array
    and ``f`` a 1-D array of ``J.shape[0]`` entries; ``rcond`` and ``ridge`` finite and non-negative.
    """
    be = resolve_backend(J, f)
    J = as_points("J", J, be, ndim=2, finite=False)
    f = as_points("f", f, be, ndim=1, finite=False)
    if f.shape[0] != J.shape[0]:
        raise ValueError(f"f must have J.shape[0] = {J.shape[0]} entries, got shape {tuple(f.shape)}")
    rcond, ridge = as_real("rcond", rcond, low=0.0), as_real("ridge", ridge, low=0.0)
    scale_columns = as_bool("scale_columns", scale_columns)
    v, diag = lstsq_arrays(J, f, rcond=rcond, ridge=ridge, scale_columns=scale_columns)
    return v, _info(diag)


def velocity_arrays(pde: Any, param: Any, theta: Any, X: Any, t: Any, *, rcond: float = 1e-10,
                    ridge: float = 0.0) -> tuple[Any, tuple[Any, Any, Any]]:
    r""":func:`galerkin_velocity` with array diagnostics (traceable; see :func:`lstsq_arrays`).

    Parameters
    ----------
    pde, param
        the problem and the parametrization.
    theta
        ``(p,)`` parameters.
    X
        ``(n, d)`` sample points.
    t
        time (a float, or a 0-d array inside a compiled step).
    rcond, ridge
        regularization (:func:`regularized_lstsq`).

    Notes
    -----
    Returns ``(theta_dot (p,), (rank, cond, residual))``.
    """
    xp = array_namespace(theta, X)
    fields = param.evaluate(theta, X, ("jac", *pde.needs))
    f = pde.rhs(t, X, fields, xp)
    return lstsq_arrays(fields["jac"], f, rcond=rcond, ridge=ridge)


def galerkin_velocity(pde: Any, param: Any, theta: Any, X: Any, t: float, *, rcond: float = 1e-10,
                      ridge: float = 0.0) -> tuple[Any, LstsqInfo]:
    r""":math:`\dot\theta = \arg\min_v\|J(\theta)v - f(t,\cdot,u(\cdot;\theta))\|^2` on the points ``X``.

    ``theta`` a finite ``(p,)`` array, ``X`` finite ``(n, d)``, ``t`` a finite number (checked at entry)."""
    from ._checks import check_problem, points_array, theta_array

    check_problem(pde, param)
    be = resolve_backend(theta, X)
    theta, X = theta_array("theta", theta, param, be), points_array("X", X, pde.d, be)
    t = as_real("t", t)
    rcond, ridge = as_real("rcond", rcond, low=0.0), as_real("ridge", ridge, low=0.0)
    v, diag = velocity_arrays(pde, param, theta, X, t, rcond=rcond, ridge=ridge)
    return v, _info(diag)
