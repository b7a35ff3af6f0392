r"""Discretize-then-optimize (DtO) implicit steps of Neural Galerkin schemes, solved by Gauss–Newton.

One implicit step solves

.. math:: \theta_{k+1} = \arg\min_\theta \tfrac1n\sum_j \big|u(x_j;\theta) - u(x_j;\theta_k)
          - \Delta t\,[(1-\alpha) f(t_k, x_j;\theta_k) + \alpha f(t_{k+1}, x_j;\theta)]\big|^2

(backward Euler :math:`\alpha = 1`, Crank–Nicolson :math:`\alpha = \tfrac12`); the residual Jacobian is
:math:`J_u - \alpha\Delta t\,\partial_\theta f` with :math:`\partial_\theta f` exact by reverse-mode autodiff where
the backend has ``value_and_grad`` (:func:`dfdtheta_autodiff`), else by forward differences (:func:`dfdtheta_fd`).
The continuous-time (optimize-then-discretize) scheme it discretizes is that of Bruna, Peherstorfer &
Vanden-Eijnden, "Neural Galerkin schemes with active learning for high-dimensional evolution equations",
J. Comput. Phys. 2024 (arXiv:2203.01360). The Gauss–Newton iteration and
its backtracking are ``while`` loops of a :class:`~._compiling.Loops` object, so a whole implicit time step (and a
whole run of them) compiles on JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from .._backend import resolve_backend
from .._typing import Array
from .._validation import as_count, as_real
from ._compiling import Loops
from .lstsq import LstsqInfo, _info, lstsq_arrays

__all__ = ["dfdtheta_autodiff", "dfdtheta_fd", "gauss_newton_solve", "implicit_parts", "implicit_step"]

#: backtracking halvings tried per Gauss–Newton iteration
_BACKTRACK = 12


def dfdtheta_fd(f_of_theta: Callable[[Any], Any], theta: Array, f0: Array, *, fd_step: float = 1e-7) -> Array:
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


def dfdtheta_autodiff(value_and_grad: Callable, f_of_theta: Callable[[Any], Any], theta: Array, n: int, *,
                      rowwise: bool = False) -> Array:
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
        1 (backward Euler), 1/2 (Crank–Nicolson) or 0 (explicit Euler: the discretize-then-optimize fit of
        :math:`u(\theta_k) + \Delta t f(t_k, \theta_k)` of Zhang, Chen, Vanden-Eijnden & Peherstorfer,
        arXiv:2404.01145).
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

        if alpha == 0:  # explicit-Euler DtO: the target does not depend on theta
            JR = fl["jac"]
        elif value_and_grad is not None:
            Df = dfdtheta_autodiff(value_and_grad, f_of, th, X.shape[0], rowwise=bool(param.rowwise))
            JR = fl["jac"] - (h * alpha) * Df
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


def gauss_newton_solve(parts: tuple[Callable, Callable, Callable], t: Any, h: Any, theta: Any, X: Any, *, iters: int,
                 tol: float, loops: Loops) -> tuple[Any, tuple[Any, Any, Any]]:
    r"""The Gauss–Newton iteration of :func:`implicit_step` with array diagnostics, as ``while`` loops of
    ``loops`` (compiled on JAX): from the Euler predictor, at most ``iters`` increments, each halved up to
    :data:`_BACKTRACK` - 1 times until the residual does not grow; stop when no halving helps or when
    :math:`\|\delta\| \le` ``tol`` :math:`(1 + \|\theta\|)`. Returns ``(theta, (rank, cond, residual))`` of the
    last linear solve."""
    xp = array_namespace(theta, X)
    predictor, increment, residual_norm = parts
    th0, base, diag0 = predictor(t, h, theta, X)

    def backtrack(th: Any, delta: Any, r0: Any) -> tuple[Any, Any]:
        def trial(d: Any) -> Any:
            rc = residual_norm(t, h, th + d, X, base)
            return xp.isfinite(rc) & (rc <= r0)

        def cond(c: tuple) -> Any:
            j, _, ok = c
            return ~ok & (j < _BACKTRACK - 1)

        def body(c: tuple) -> tuple:
            j, d, _ = c
            d = 0.5 * d
            return j + 1, d, trial(d)

        _, delta, ok = loops.while_loop(cond, body, (xp.asarray(0), delta, trial(delta)))
        return delta, ok

    def cond(c: tuple) -> Any:
        it, _, _, stop = c
        return ~stop & (it < int(iters))

    def body(c: tuple) -> tuple:
        it, th, _, _ = c
        delta, r0, diag = increment(t, h, th, X, base)
        delta, ok = backtrack(th, delta, r0)
        th_new = xp.where(ok, th + delta, th)
        small = xp.linalg.vector_norm(delta) <= tol * (1.0 + xp.linalg.vector_norm(th_new))
        return it + 1, th_new, diag, ~ok | small

    _, th, diag, _ = loops.while_loop(cond, body, (xp.asarray(0), th0, diag0, xp.asarray(False)))
    return th, diag


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

    Returns
    -------
    theta, info
        :math:`\theta_{k+1}` and the :class:`LstsqInfo` of the last linear solve.
    """
    from ._checks import check_problem, points_array, theta_array

    check_problem(pde, param)
    be = resolve_backend(theta, X)
    theta, X = theta_array("theta", theta, param, be), points_array("X", X, pde.d, be)
    t = as_real("t", t)
    h = as_real("h", h)
    if h == 0.0:
        raise ValueError("h must be non-zero")
    alpha = as_real("alpha", alpha, low=0.0, high=1.0, low_open=True)
    iters, tol = as_count("iters", iters), as_real("tol", tol, low=0.0)
    rcond, ridge = as_real("rcond", rcond, low=0.0), as_real("ridge", ridge, low=0.0)
    fd_step = as_real("fd_step", fd_step, low=0.0, low_open=True)
    if parts is None:
        parts = implicit_parts(pde, param, alpha=alpha, rcond=rcond, ridge=ridge, fd_step=fd_step,
                               value_and_grad=value_and_grad)
    th, diag = gauss_newton_solve(parts, t, h, theta, X, iters=iters, tol=tol, loops=Loops(be, False))
    return th, _info(diag)
