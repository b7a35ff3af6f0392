r"""Sequential-in-time training: the Dirac–Frenkel least-squares step, time steppers, the initial fit.

**Optimize-then-discretize (OtD).** With samples :math:`x_1..x_n` from the measure :math:`\nu` and the
sampled Jacobian :math:`J_{jk} = \partial_{\theta_k}u(x_j;\theta)`, the parameter velocity is the regularized
least-squares solution

.. math:: \dot\theta = \arg\min_v \tfrac1n\|Jv - f\|^2 + \lambda\|v\|^2,\qquad f_j = f(t, x_j, u(x_j;\theta)),

i.e. :math:`(M + \lambda I)\dot\theta = F` with :math:`M = J^TJ/n`, :math:`F = J^Tf/n`, computed from the
thin SVD :math:`J = U\Sigma V^T` (optionally after scaling the columns of :math:`J` to unit norm; off by
default for the dynamics, since scaling gives units of vanishing amplitude unbounded velocities):
:math:`\dot\theta = V\,\mathrm{diag}(\sigma_i/(\sigma_i^2 + n\lambda))\,U^Tf`, singular values below
``rcond``:math:`\cdot\sigma_{\max}` dropped. The numerical rank and the condition number
:math:`\sigma_{\max}/\sigma_{\min,\text{kept}}` are reported; a degenerate parametrization (duplicate
units, zero amplitudes, all-zero Jacobian) gives a finite minimum-norm velocity, never NaN.
The ODE :math:`\dot\theta = M^+F` is integrated by explicit Euler, classical RK4 or adaptive Dormand–Prince 5(4).

**Discretize-then-optimize (DtO).** One implicit step solves, by Gauss–Newton,

.. math:: \theta_{k+1} = \arg\min_\theta \tfrac1n\sum_j \big|u(x_j;\theta) - u(x_j;\theta_k)
          - \Delta t\,[(1-\alpha) f(t_k, x_j;\theta_k) + \alpha f(t_{k+1}, x_j;\theta)]\big|^2

(backward Euler :math:`\alpha = 1`, Crank–Nicolson :math:`\alpha = \tfrac12`); the residual Jacobian is
:math:`J_u - \alpha\Delta t\,\partial_\theta f` with :math:`\partial_\theta f` by forward differences.

**Initial fit.** :math:`\theta(0) = \arg\min_\theta\sum_j|u(x_j;\theta) - u_0(x_j)|^2` by Levenberg–Marquardt.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

__all__ = ["LstsqInfo", "fit_initial", "galerkin_velocity", "implicit_step", "regularized_lstsq", "rk_step"]


@dataclasses.dataclass
class LstsqInfo:
    """Diagnostics of one least-squares solve: numerical rank, condition number of the kept part, residual
    :math:`\\|Jv - f\\|/\\|f\\|` (0 when ``f = 0``)."""

    rank: int
    cond: float
    residual: float


def regularized_lstsq(J: Any, f: Any, *, rcond: float = 1e-10, ridge: float = 0.0,
                      scale_columns: bool = False) -> tuple[Any, LstsqInfo]:
    r"""Solve :math:`\min_v \|Jv - f\|^2 + n\lambda\|v\|^2` by truncated, damped SVD (see the module docstring).

    ``J`` ``(n, p)``, ``f`` ``(n,)``; returns ``(v (p,), LstsqInfo)``. With ``scale_columns`` the solve is done
    in the variables :math:`D v` with :math:`D = \mathrm{diag}(\|J_{:,k}\|)` (zero columns get
    :math:`D_{kk} = 1`), which makes ``rcond`` independent of the parameter units; ``ridge`` then acts on
    :math:`Dv`.
    """
    xp = array_namespace(J, f)
    if rcond < 0 or ridge < 0:
        raise ValueError(f"rcond and ridge must be >= 0, got {rcond}, {ridge}")
    n = J.shape[0]
    finite = xp.isfinite(J)
    J = xp.where(finite, J, xp.zeros_like(J))
    f = xp.where(xp.isfinite(f), f, xp.zeros_like(f))
    if scale_columns:
        D = xp.linalg.vector_norm(J, axis=0)
        D = xp.where(D > 0, D, xp.ones_like(D))
        Js = J / D
    else:
        D = None
        Js = J
    U, S, Vh = xp.linalg.svd(Js, full_matrices=False)
    smax = float(S[0]) if S.shape[0] > 0 else 0.0
    tiny = 1e-150 if smax > 0 else math.inf  # all False when J = 0 (or its SVD failed)
    keep = (S > rcond * smax) & (S > tiny) if math.isfinite(smax) else S < 0
    safe = xp.where(keep, S, xp.ones_like(S))
    filt = xp.where(keep, safe / (safe**2 + n * ridge), xp.zeros_like(S))
    v = Vh.T @ (filt * (U.T @ f))
    if D is not None:
        v = v / D
    rank = int(xp.sum(xp.astype(keep, xp.int64)))
    smin = float(xp.min(xp.where(keep, S, xp.full_like(S, smax)))) if rank > 0 else 0.0
    cond = smax / smin if rank > 0 and smin > 0 else math.inf
    fn = float(xp.linalg.vector_norm(f))
    res = float(xp.linalg.vector_norm(J @ v - f)) / fn if fn > 0 else 0.0
    return v, LstsqInfo(rank=rank, cond=cond, residual=res)


def galerkin_velocity(pde: Any, param: Any, theta: Any, X: Any, t: float, *, rcond: float = 1e-10,
                      ridge: float = 0.0) -> tuple[Any, LstsqInfo]:
    r""":math:`\dot\theta = \arg\min_v\|J(\theta)v - f(t,\cdot,u(\cdot;\theta))\|^2` on the points ``X``."""
    xp = array_namespace(theta, X)
    fields = param.evaluate(theta, X, ("jac", *pde.needs))
    f = pde.rhs(t, X, fields, xp)
    return regularized_lstsq(fields["jac"], f, rcond=rcond, ridge=ridge)


# ------------------------------------------------------------------------------------------ explicit RK
_TABLEAUS: dict[str, tuple[list[list[float]], list[float], list[float], list[float] | None]] = {
    "euler": ([[]], [1.0], [0.0], None),
    "rk4": ([[], [0.5], [0.0, 0.5], [0.0, 0.0, 1.0]], [1 / 6, 1 / 3, 1 / 3, 1 / 6], [0.0, 0.5, 0.5, 1.0], None),
    "dopri5": (
        [
            [],
            [1 / 5],
            [3 / 40, 9 / 40],
            [44 / 45, -56 / 15, 32 / 9],
            [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
            [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
            [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
        ],
        [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0],
        [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
        [5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40],
    ),
}


def rk_step(rhs: Callable[[float, Any, Any], tuple[Any, Any, LstsqInfo]], t: float, theta: Any, X: Any, h: float,
            method: str = "rk4") -> tuple[Any, Any, LstsqInfo, Any]:
    """One explicit Runge–Kutta step of the coupled system :math:`(\\dot\\theta, \\dot X) = \\text{rhs}(t, \\theta, X)`
    (``rhs`` returns ``(theta_dot, X_dot or None, info)``). Returns ``(theta, X, info of the first stage,
    error estimate or None)``; the error estimate (``dopri5`` only) is :math:`\\theta_5 - \\theta_4`."""
    A, bw, cn, bhat = _TABLEAUS[method]
    ks, kx = [], []
    info0 = None
    for i, row in enumerate(A):
        th, xx = theta, X
        for a, k1, k2 in zip(row, ks, kx, strict=False):
            if a != 0.0:
                th = th + (h * a) * k1
                if k2 is not None:
                    xx = xx + (h * a) * k2
        vt, vx, info = rhs(t + cn[i] * h, th, xx)
        if info0 is None:
            info0 = info
        ks.append(vt)
        kx.append(vx)
    th_new = theta
    x_new = X
    for b, k1, k2 in zip(bw, ks, kx, strict=False):
        if b != 0.0:
            th_new = th_new + (h * b) * k1
            if k2 is not None:
                x_new = x_new + (h * b) * k2
    err = None
    if bhat is not None:
        err = 0.0 * theta
        for b, bh, k1 in zip(bw, bhat, ks, strict=False):
            if b != bh:
                err = err + (h * (b - bh)) * k1
    return th_new, x_new, info0, err


# ------------------------------------------------------------------------------------------ implicit DtO
def implicit_step(pde: Any, param: Any, theta: Any, X: Any, t: float, h: float, *, alpha: float = 1.0,
                  iters: int = 5, tol: float = 1e-10, rcond: float = 1e-10, ridge: float = 0.0,
                  fd_step: float = 1e-7) -> tuple[Any, LstsqInfo]:
    r"""One discretize-then-optimize step (backward Euler ``alpha=1``, Crank–Nicolson ``alpha=0.5``) by
    Gauss–Newton from the explicit Euler predictor; ``(theta_{k+1}, info of the last linear solve)``."""
    xp = array_namespace(theta, X)
    needs = pde.needs
    fk = param.evaluate(theta, X, ("jac", *needs))
    f_old = pde.rhs(t, X, fk, xp)
    u_old = fk["u"]
    v0, info = regularized_lstsq(fk["jac"], f_old, rcond=rcond, ridge=ridge)
    th = theta + h * v0
    p = theta.shape[0]
    eye = xp.eye(p, dtype=theta.dtype, device=getattr(theta, "device", None))
    base = u_old + (h * (1.0 - alpha)) * f_old
    for _ in range(int(iters)):
        fl = param.evaluate(th, X, ("jac", *needs))
        f_new = pde.rhs(t + h, X, fl, xp)
        R = fl["u"] - base - (h * alpha) * f_new
        # forward-difference Jacobian of f in theta (one evaluation per parameter)
        cols = []
        for k in range(p):
            eps = fd_step * (1.0 + abs(float(th[k])))
            fe = param.evaluate(th + eps * eye[k, :], X, needs)
            cols.append((pde.rhs(t + h, X, fe, xp) - f_new) / eps)
        JR = fl["jac"] - (h * alpha) * xp.stack(cols, axis=1)
        delta, info = regularized_lstsq(JR, -R, rcond=rcond, ridge=ridge)
        r0 = float(xp.linalg.vector_norm(R))
        for _ in range(12):  # backtracking: accept only steps that reduce the residual
            cand = th + delta
            fc = param.evaluate(cand, X, needs)
            rc = float(xp.linalg.vector_norm(fc["u"] - base - (h * alpha) * pde.rhs(t + h, X, fc, xp)))
            if math.isfinite(rc) and rc <= r0:
                break
            delta = 0.5 * delta
        else:
            break
        th = cand
        if float(xp.linalg.vector_norm(delta)) <= tol * (1.0 + float(xp.linalg.vector_norm(th))):
            break
    return th, info


# ------------------------------------------------------------------------------------------ initial fit
def fit_initial(param: Any, target: Any, theta_guess: Any, X: Any, *, iters: int = 200, tol: float = 1e-12,
                damping: float = 1.0) -> tuple[Any, float]:
    r"""Levenberg–Marquardt fit :math:`\min_\theta\sum_j|u(x_j;\theta) - y_j|^2` from ``theta_guess``.

    ``target``: the values :math:`y_j = u_0(x_j)` ``(n,)``. Each iteration solves
    :math:`\min_\delta\|J\delta + r\|^2 + \mu\|D\delta\|^2` (column-scaled); :math:`\mu` shrinks by 3 after an
    accepted step and grows by 4 after a rejected one. Returns ``(theta, relative residual ||r||/||y||)``.
    """
    xp = array_namespace(theta_guess, X)
    th = theta_guess
    ynorm = float(xp.linalg.vector_norm(target))
    if ynorm == 0.0:
        ynorm = 1.0
    fl = param.evaluate(th, X, ("u", "jac"))
    r = fl["u"] - target
    loss = float(xp.sum(r**2))
    mu = float(damping)
    n = X.shape[0]
    for _ in range(int(iters)):
        delta, _ = regularized_lstsq(fl["jac"], -r, rcond=1e-14, ridge=mu / n, scale_columns=True)
        cand = th + delta
        fc = param.evaluate(cand, X, ("u", "jac"))
        rc = fc["u"] - target
        lc = float(xp.sum(rc**2))
        if math.isfinite(lc) and lc < loss:
            improvement = (loss - lc) / max(loss, 1e-300)
            th, fl, r, loss = cand, fc, rc, lc
            mu = max(mu / 3.0, 1e-12)
            if improvement < tol:
                break
        else:
            mu *= 4.0
            if mu > 1e12:
                break
    return th, math.sqrt(loss) / ynorm
