r"""The initial fit of a Neural Galerkin run: :math:`\theta(0) = \arg\min_\theta\sum_j|u(x_j;\theta) - u_0(x_j)|^2`.

Levenberg–Marquardt (Levenberg 1944; Marquardt 1963) with column scaling, as in Bruna, Peherstorfer &
Vanden-Eijnden, "Neural Galerkin schemes with active learning for high-dimensional evolution equations",
J. Comput. Phys. 2024 (arXiv:2203.01360), where the initial condition is fitted before the time stepping starts.
The whole iteration is one ``while`` loop (:class:`~._compiling.Loops`): one compiled program on JAX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from .._backend import resolve_backend
from .._validation import as_count, as_points, as_real
from ._compiling import Identity, Loops, compiled_or_plain
from .lstsq import lstsq_arrays

__all__ = ["fit_initial"]


def _lm_program(param: Any, iters: int, tol: float, loops: Loops) -> Callable:
    """``(theta, target, X, mu) -> (theta, loss)``: the Levenberg–Marquardt loop of :func:`fit_initial`."""

    def run(th: Any, target: Any, X: Any, mu: Any) -> tuple[Any, Any]:
        xp = array_namespace(th, X)
        n = X.shape[0]

        def evaluate(t: Any) -> tuple[Any, Any, Any]:
            fl = param.evaluate(t, X, ("u", "jac"))
            r = fl["u"] - target
            return fl["jac"], r, xp.sum(r**2)

        def cond(c: tuple) -> Any:
            it, *_, stop = c
            return ~stop & (it < int(iters))

        def body(c: tuple) -> tuple:
            it, t, jac, r, loss, mu, _ = c
            delta, _ = lstsq_arrays(jac, -r, rcond=1e-14, ridge=mu / n, scale_columns=True)
            cand = t + delta
            jc, rc, lc = evaluate(cand)
            acc = xp.isfinite(lc) & (lc < loss)
            improvement = (loss - lc) / xp.maximum(loss, xp.asarray(1e-300, dtype=loss.dtype))
            mu_new = xp.where(acc, xp.maximum(mu / 3.0, xp.asarray(1e-12, dtype=mu.dtype)), 4.0 * mu)
            stop = xp.where(acc, improvement < tol, mu_new > 1e12)
            return (it + 1, xp.where(acc, cand, t), xp.where(acc, jc, jac), xp.where(acc, rc, r),
                    xp.where(acc, lc, loss), mu_new, stop)

        jac, r, loss = evaluate(th)
        c = loops.while_loop(cond, body, (xp.asarray(0), th, jac, r, loss, mu, xp.asarray(False)))
        return c[1], c[4]

    return run


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
        ``tol`` (relative), or when :math:`\mu` exceeds :math:`10^{12}`.
    damping
        the initial :math:`\mu`.
    jit
        e.g. ``backend.jit``: when given, the whole iteration runs as one program compiled by the backend
        (:meth:`Backend.compiled`; uncompiled, with a warning, if tracing fails).

    Returns
    -------
    theta, residual
        the fitted parameters and the relative residual :math:`\|r\|/\|y\|`.
    """
    from ._checks import points_array, theta_array
    from .params import Parametrization

    if not isinstance(param, Parametrization):
        raise TypeError(f"param must be a transportkit.galerkin.Parametrization, got {type(param).__name__}")
    iters = as_count("iters", iters, low=0)
    tol = as_real("tol", tol, low=0.0)
    damping = as_real("damping", damping, low=0.0, low_open=True)
    be = resolve_backend(theta_guess, X)
    theta_guess = theta_array("theta_guess", theta_guess, param, be)
    X = points_array("X", X, param.d, be)
    target = as_points("target", target, be, ndim=1)
    if target.shape[0] != X.shape[0]:
        raise ValueError(f"target must have one value per point of X ({X.shape[0]}), got shape {tuple(target.shape)}")
    xp = be.xp
    ynorm = float(xp.linalg.vector_norm(target))
    ynorm = 1.0 if ynorm == 0.0 else ynorm
    run = compiled_or_plain(be, lambda loops: _lm_program(param, int(iters), float(tol), loops),
                            compile=jit is not None, key=(Identity(param), int(iters), float(tol)),
                            name="the initial fit")
    mu = xp.asarray(float(damping), dtype=theta_guess.dtype, device=be.device)
    th, loss = run(theta_guess, target, X, mu)
    return th, math.sqrt(float(loss)) / ynorm
