r"""Sequential-in-time training: the Dirac–Frenkel least-squares step, time steppers, the initial fit.

**Optimize-then-discretize (OtD).** With samples :math:`x_1..x_n` from the measure :math:`\nu` and the
sampled Jacobian :math:`J_{jk} = \partial_{\theta_k}u(x_j;\theta)`, the parameter velocity is the regularized
least-squares solution

.. math:: \dot\theta = \arg\min_v \tfrac1n\|Jv - f\|^2 + \lambda\|v\|^2,\qquad f_j = f(t, x_j, u(x_j;\theta)),

i.e. :math:`(M + \lambda I)\dot\theta = F` with :math:`M = J^TJ/n`, :math:`F = J^Tf/n`, computed from the
thin SVD :math:`J = U\Sigma V^T` (for :math:`n \ge 2p` through a thin QR :math:`J = QR` and the SVD of
:math:`R`; optionally after scaling the columns of :math:`J` to unit norm; off by
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
:math:`J_u - \alpha\Delta t\,\partial_\theta f` with :math:`\partial_\theta f` exact by reverse-mode
autodiff where the backend has ``value_and_grad`` (one pass with per-point parameter rows, see
:func:`dfdtheta_autodiff`), else by forward differences (:func:`dfdtheta_fd`).

**Compilation.** Every array kernel here (:func:`lstsq_arrays`, :func:`velocity_arrays`, :func:`rk_step` with
such a right-hand side, the parts of :func:`implicit_parts`, the trial step of :func:`fit_initial`) keeps its
values inside the array library (diagnostics are 0-d arrays, no data-dependent Python branch), so
:func:`transportkit.galerkin.solve` compiles one whole time step with ``Backend.maybe_jit`` (JAX) and
only the loop over time, the step-size control and the Gauss–Newton/Levenberg–Marquardt acceptance tests run
in Python.

**Initial fit.** :math:`\theta(0) = \arg\min_\theta\sum_j|u(x_j;\theta) - u_0(x_j)|^2` by Levenberg–Marquardt.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

__all__ = [
    "LstsqInfo",
    "dfdtheta_autodiff",
    "dfdtheta_fd",
    "fit_initial",
    "galerkin_velocity",
    "implicit_parts",
    "implicit_step",
    "lstsq_arrays",
    "regularized_lstsq",
    "rk_step",
    "velocity_arrays",
]


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


def _info(diag: tuple[Any, Any, Any]) -> LstsqInfo:
    rank, cond, res = diag
    return LstsqInfo(rank=int(rank), cond=float(cond), residual=float(res))


def regularized_lstsq(J: Any, f: Any, *, rcond: float = 1e-10, ridge: float = 0.0,
                      scale_columns: bool = False) -> tuple[Any, LstsqInfo]:
    r"""Solve :math:`\min_v \|Jv - f\|^2 + n\lambda\|v\|^2` by truncated, damped SVD (see the module docstring).

    ``J`` ``(n, p)``, ``f`` ``(n,)``; returns ``(v (p,), LstsqInfo)``. With ``scale_columns`` the solve is done
    in the variables :math:`D v` with :math:`D = \mathrm{diag}(\|J_{:,k}\|)` (zero columns get
    :math:`D_{kk} = 1`), which makes ``rcond`` independent of the parameter units; ``ridge`` then acts on
    :math:`Dv`. Non-finite entries of ``J`` and ``f`` are replaced by 0.
    """
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
    r""":math:`\dot\theta = \arg\min_v\|J(\theta)v - f(t,\cdot,u(\cdot;\theta))\|^2` on the points ``X``."""
    v, diag = velocity_arrays(pde, param, theta, X, t, rcond=rcond, ridge=ridge)
    return v, _info(diag)


class _Compiled:
    """``f`` compiled by ``jit`` (when given); if the first compiled call fails (e.g. a user ``rhs`` that is not
    traceable), warn once and fall back to ``f`` itself."""

    def __init__(self, f: Callable, jit: Callable | None) -> None:
        self.f = f
        self.fn = f if jit is None else jit(f)
        self.checked = jit is None

    def __call__(self, *args: Any) -> Any:
        if self.checked:
            return self.fn(*args)
        try:
            out = self.fn(*args)
        except Exception as exc:  # any tracing failure: run the plain function instead
            name = getattr(self.f, "__name__", "a Galerkin kernel")
            warnings.warn(f"{name} could not be compiled ({type(exc).__name__}: {exc}); running it uncompiled "
                          "(pass jit=False to silence this)", RuntimeWarning, stacklevel=3)
            self.fn = self.f
            out = self.f(*args)
        self.checked = True
        return out


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
def dfdtheta_fd(f_of_theta: Callable[[Any], Any], theta: Any, f0: Any, *, fd_step: float = 1e-7) -> Any:
    r"""Forward-difference Jacobian :math:`\partial f_j/\partial\theta_k \approx (f(\theta + \epsilon_k e_k) -
    f(\theta))/\epsilon_k`, :math:`\epsilon_k = h(1 + |\theta_k|)` with :math:`h` = ``fd_step``.

    Parameters
    ----------
    f_of_theta
        ``theta (p,) -> (n,)``.
    theta, f0
        the point and ``f_of_theta(theta)``.
    fd_step
        relative step.

    Notes
    -----
    One evaluation per parameter; returns ``(n, p)``. Traceable (no host synchronization).
    """
    xp = array_namespace(theta, f0)
    p = theta.shape[0]
    eye = xp.eye(p, dtype=theta.dtype, device=getattr(theta, "device", None))
    eps = fd_step * (1.0 + xp.abs(theta))
    cols = [(f_of_theta(theta + eps[k] * eye[k, :]) - f0) / eps[k] for k in range(p)]
    return xp.stack(cols, axis=1)


def dfdtheta_autodiff(value_and_grad: Callable, f_of_theta: Callable[[Any], Any], theta: Any, n: int, *,
                      rowwise: bool = False) -> Any:
    r"""Exact Jacobian :math:`\partial f_j/\partial\theta_k` ``(n, p)`` from reverse-mode autodiff only.

    Parameters
    ----------
    value_and_grad
        the backend's ``value_and_grad`` capability.
    f_of_theta
        ``theta (p,) -> (n,)``; with ``rowwise`` it also takes per-point rows ``Theta (n, p)`` and
        row :math:`j` of its output depends on row :math:`j` of ``Theta`` only.
    theta
        ``(p,)`` the point.
    n
        the output length.
    rowwise
        use the row trick (one reverse pass) instead of nested passes (one per parameter).

    Notes
    -----
    With ``rowwise``, :math:`\Theta_j = \theta` for all :math:`j` and one reverse pass of
    :math:`s(\Theta) = \sum_j f_j(\Theta_j)` gives :math:`\partial s/\partial\Theta_{jk} = \partial f_j/
    \partial\theta_k`. Otherwise, the vector-Jacobian product :math:`g(w) = \nabla_\theta(w\cdot f)(\theta)
    = J^Tw` is linear in :math:`w`, so column :math:`k` of :math:`J` is :math:`\nabla_w\,g_k(w)` (at
    :math:`w = 0`): one nested reverse pass per parameter. Both are exact to rounding.
    """
    xp = array_namespace(theta)
    p = theta.shape[0]
    if rowwise:
        Theta = xp.broadcast_to(theta[None, :], (n, p))
        return value_and_grad(lambda T: xp.sum(f_of_theta(T)))(Theta)[1]
    w0 = xp.zeros(n, dtype=theta.dtype, device=getattr(theta, "device", None))

    def vjp(w: Any) -> Any:
        return value_and_grad(lambda th: xp.sum(w * f_of_theta(th)))(theta)[1]

    cols = [value_and_grad(lambda w, k=k: vjp(w)[k])(w0)[1] for k in range(p)]
    return xp.stack(cols, axis=1)


def implicit_parts(pde: Any, param: Any, *, alpha: float = 1.0, rcond: float = 1e-10, ridge: float = 0.0,
                   fd_step: float = 1e-7, value_and_grad: Callable | None = None,
                   jit: Callable | None = None) -> tuple[Callable, Callable, Callable]:
    r"""The array kernels of one implicit step, each traceable (``jit``-compiled when ``jit`` is given).

    Parameters
    ----------
    pde, param
        the problem and the parametrization.
    alpha
        1 (backward Euler) or 1/2 (Crank–Nicolson).
    rcond, ridge
        regularization of the linear solves.
    fd_step
        relative forward-difference step, used when ``value_and_grad`` is ``None``.
    value_and_grad
        the backend's autodiff capability: :math:`\partial_\theta f` exactly
        (:func:`dfdtheta_autodiff`) instead of by forward differences (:func:`dfdtheta_fd`).
    jit
        e.g. ``backend.maybe_jit``.

    Notes
    -----
    Returns ``(predictor, gauss_newton, residual_norm)``:
    ``predictor(t, h, theta, X) -> (theta + h v, base, diag)`` with :math:`v` the Galerkin velocity and
    ``base`` :math:`= u(\theta_k) + (1-\alpha)h f(t, \theta_k)`;
    ``gauss_newton(t, h, th, X, base) -> (delta, ||R||, diag)`` the Gauss–Newton increment for the residual
    :math:`R(\theta) = u(\theta) - \text{base} - \alpha h f(t + h, \theta)`;
    ``residual_norm(t, h, th, X, base) -> ||R(th)||``.
    """

    def f_at(t: Any, th: Any, X: Any) -> tuple[Any, dict[str, Any]]:
        xp = array_namespace(th, X)
        fl = param.evaluate(th, X, pde.needs)
        return pde.rhs(t, X, fl, xp), fl

    def predictor(t: Any, h: Any, theta: Any, X: Any) -> tuple[Any, Any, Any]:
        xp = array_namespace(theta, X)
        fk = param.evaluate(theta, X, ("jac", *pde.needs))
        f_old = pde.rhs(t, X, fk, xp)
        v0, diag = lstsq_arrays(fk["jac"], f_old, rcond=rcond, ridge=ridge)
        return theta + h * v0, fk["u"] + (h * (1.0 - alpha)) * f_old, diag

    def gauss_newton(t: Any, h: Any, th: Any, X: Any, base: Any) -> tuple[Any, Any, Any]:
        xp = array_namespace(th, X)
        fl = param.evaluate(th, X, ("jac", *pde.needs))
        f_new = pde.rhs(t + h, X, fl, xp)
        R = fl["u"] - base - (h * alpha) * f_new

        def f_of(tt: Any) -> Any:
            return f_at(t + h, tt, X)[0]

        if value_and_grad is not None:
            Df = dfdtheta_autodiff(value_and_grad, f_of, th, X.shape[0], rowwise=bool(param.rowwise))
        else:
            Df = dfdtheta_fd(f_of, th, f_new, fd_step=fd_step)
        JR = fl["jac"] - (h * alpha) * Df
        delta, diag = lstsq_arrays(JR, -R, rcond=rcond, ridge=ridge)
        return delta, xp.linalg.vector_norm(R), diag

    def residual_norm(t: Any, h: Any, th: Any, X: Any, base: Any) -> Any:
        xp = array_namespace(th, X)
        f, fl = f_at(t + h, th, X)
        return xp.linalg.vector_norm(fl["u"] - base - (h * alpha) * f)

    if jit is None:
        return predictor, gauss_newton, residual_norm
    return jit(predictor), jit(gauss_newton), jit(residual_norm)


def implicit_step(pde: Any, param: Any, theta: Any, X: Any, t: float, h: float, *, alpha: float = 1.0,
                  iters: int = 5, tol: float = 1e-10, rcond: float = 1e-10, ridge: float = 0.0,
                  fd_step: float = 1e-7, value_and_grad: Callable | None = None,
                  parts: tuple[Callable, Callable, Callable] | None = None) -> tuple[Any, LstsqInfo]:
    r"""One discretize-then-optimize step (backward Euler ``alpha=1``, Crank–Nicolson ``alpha=0.5``) by
    Gauss–Newton with backtracking from the explicit Euler predictor.

    Parameters
    ----------
    pde, param
        the problem and the parametrization.
    theta
        ``(p,)`` parameters at time ``t``.
    X
        ``(n, d)`` sample points.
    t, h
        time and step.
    alpha
        1 (backward Euler) or 1/2 (Crank–Nicolson).
    iters, tol
        at most ``iters`` Gauss–Newton iterations; stop when :math:`\|\delta\| \le`
        ``tol`` :math:`(1 + \|\theta\|)`.
    rcond, ridge
        regularization of the linear solves.
    fd_step
        relative forward-difference step (without ``value_and_grad``).
    value_and_grad
        the backend's autodiff: :math:`\partial_\theta f` exact instead of by forward differences.
    parts
        the kernels from :func:`implicit_parts` (built here from the arguments above when ``None``; pass
        compiled ones to reuse them across steps — they then fix ``alpha``, ``rcond``, ``ridge`` and the
        derivatives).

    Notes
    -----
    Returns ``(theta_{k+1}, info of the last linear solve)``.
    """
    xp = array_namespace(theta, X)
    if parts is None:
        parts = implicit_parts(pde, param, alpha=alpha, rcond=rcond, ridge=ridge, fd_step=fd_step,
                               value_and_grad=value_and_grad)
    predictor, gauss_newton, residual_norm = parts
    th, base, diag = predictor(t, h, theta, X)
    for _ in range(int(iters)):
        delta, r0_arr, diag = gauss_newton(t, h, th, X, base)
        r0 = float(r0_arr)
        for _ in range(12):  # backtracking: accept only steps that reduce the residual
            cand = th + delta
            rc = float(residual_norm(t, h, cand, X, base))
            if math.isfinite(rc) and rc <= r0:
                break
            delta = 0.5 * delta
        else:
            break
        th = cand
        if float(xp.linalg.vector_norm(delta)) <= tol * (1.0 + float(xp.linalg.vector_norm(th))):
            break
    return th, _info(diag)


# ------------------------------------------------------------------------------------------ initial fit
def fit_initial(param: Any, target: Any, theta_guess: Any, X: Any, *, iters: int = 200, tol: float = 1e-12,
                damping: float = 1.0, jit: Callable | None = None) -> tuple[Any, float]:
    r"""Levenberg–Marquardt fit :math:`\min_\theta\sum_j|u(x_j;\theta) - y_j|^2` from ``theta_guess``.

    Each iteration solves :math:`\min_\delta\|J\delta + r\|^2 + \mu\|D\delta\|^2` (column-scaled);
    :math:`\mu` shrinks by 3 after an accepted step and grows by 4 after a rejected one.

    Parameters
    ----------
    param
        the parametrization.
    target
        ``(n,)`` the values :math:`y_j = u_0(x_j)`.
    theta_guess
        ``(p,)`` the starting point.
    X
        ``(n, d)`` the fit points.
    iters, tol
        at most ``iters`` iterations; stop when an accepted step reduces the loss by less than
        ``tol`` (relative).
    damping
        the initial :math:`\mu`.
    jit
        e.g. ``backend.jit``: compiles the evaluation and the trial step (uncompiled, with a warning, if
        tracing fails).

    Notes
    -----
    Returns ``(theta, relative residual ||r||/||y||)``.
    """
    xp = array_namespace(theta_guess, X)
    n = X.shape[0]

    def evaluate(th: Any) -> tuple[Any, Any, Any]:
        fl = param.evaluate(th, X, ("u", "jac"))
        r = fl["u"] - target
        return fl["jac"], r, xp.sum(r**2)

    def trial(th: Any, jac: Any, r: Any, mu: Any) -> tuple[Any, Any, Any, Any]:
        delta, _ = lstsq_arrays(jac, -r, rcond=1e-14, ridge=mu / n, scale_columns=True)
        cand = th + delta
        return (cand, *evaluate(cand))

    evaluate, trial = _Compiled(evaluate, jit), _Compiled(trial, jit)
    th = theta_guess
    ynorm = float(xp.linalg.vector_norm(target))
    if ynorm == 0.0:
        ynorm = 1.0
    jac, r, loss_arr = evaluate(th)
    loss = float(loss_arr)
    mu = float(damping)
    for _ in range(int(iters)):
        cand, jc, rc, lc_arr = trial(th, jac, r, mu)
        lc = float(lc_arr)
        if math.isfinite(lc) and lc < loss:
            improvement = (loss - lc) / max(loss, 1e-300)
            th, jac, r, loss = cand, jc, rc, lc
            mu = max(mu / 3.0, 1e-12)
            if improvement < tol:
                break
        else:
            mu *= 4.0
            if mu > 1e12:
                break
    return th, math.sqrt(loss) / ynorm
