r"""Sequential-in-time training: the Dirac–Frenkel least-squares step, time steppers, the initial fit.

The kernels live in :mod:`.lstsq` (least squares), :mod:`.implicit` (DtO steps) and :mod:`.fit` (initial fit);
this module holds the explicit Runge–Kutta step of the coupled system and re-exports the others.

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

**Compilation.** Every array kernel (:func:`lstsq_arrays`, :func:`velocity_arrays`, :func:`rk_step` with
such a right-hand side, the parts of :func:`implicit_parts`) keeps its values inside the array library
(diagnostics are 0-d arrays, no data-dependent Python branch), and the iterations (Gauss–Newton with
backtracking, Levenberg–Marquardt, the step-size control of Dormand–Prince) are ``while`` loops of
:class:`~._compiling.Loops`, so :func:`transportkit.galerkin.solve` runs a whole trajectory as one compiled
program on JAX (:func:`transportkit._loops.scan_steps`) and as Python loops elsewhere.

The Runge–Kutta steps are those of :mod:`transportkit.runge_kutta` (one tableau stack for the library); the
coupled parameter/particle system is stepped as one vector :math:`(\theta, \mathrm{vec}\,X)`.

Source: Bruna, Peherstorfer & Vanden-Eijnden, "Neural Galerkin schemes with active learning for
high-dimensional evolution equations", J. Comput. Phys. 2024 (arXiv:2203.01360).

**Initial fit.** :math:`\theta(0) = \arg\min_\theta\sum_j|u(x_j;\theta) - u_0(x_j)|^2` by Levenberg–Marquardt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from ..runge_kutta import Tableau, get_tableau
from ..runge_kutta import rk_step as _rk_step
from ..runge_kutta import rk_step_error as _rk_step_error
from .fit import fit_initial
from .implicit import dfdtheta_autodiff, dfdtheta_fd, gauss_newton_solve, implicit_parts, implicit_step
from .lstsq import LstsqInfo, galerkin_velocity, lstsq_arrays, regularized_lstsq, velocity_arrays

__all__ = [
    "LstsqInfo",
    "dfdtheta_autodiff",
    "dfdtheta_fd",
    "fit_initial",
    "galerkin_velocity",
    "gauss_newton_solve",
    "implicit_parts",
    "implicit_step",
    "lstsq_arrays",
    "regularized_lstsq",
    "rk_step",
    "velocity_arrays",
]

#: the explicit methods of the time stepper (names of :data:`transportkit.runge_kutta.TABLEAUS`)
EXPLICIT = ("euler", "rk4", "dopri5")


def rk_step(rhs: Callable[[Any, Any, Any], tuple[Any, Any, Any]], t: Any, theta: Any, X: Any, h: Any,
            method: str | Tableau = "rk4", *,
            rhs_later: Callable[[Any, Any, Any], tuple[Any, Any, Any]] | None = None) -> tuple[Any, Any, Any, Any]:
    r"""One explicit Runge–Kutta step of the coupled system :math:`(\dot\theta, \dot X) = \mathrm{rhs}(t, \theta, X)`.

    Parameters
    ----------
    rhs
        ``(t, theta, X) -> (theta_dot, X_dot or None, diagnostics)``; ``X_dot is None`` means the points stay
        fixed during the step.
    t, h
        time and step (floats or 0-d arrays).
    theta, X
        ``(p,)`` parameters and ``(n, d)`` points.
    method
        a name of :data:`transportkit.runge_kutta.TABLEAUS` (``"euler"``, ``"rk4"``, ``"dopri5"``, ...) or a
        :class:`~transportkit.runge_kutta.Tableau`.
    rhs_later
        the right-hand side of the stages after the first (default ``rhs``): the same velocity without the
        diagnostics, which only the first stage reports (the solver passes one that skips the SVD).

    Returns
    -------
    theta, X, diagnostics, err
        the new state, the diagnostics of the first stage, and for embedded pairs (``dopri5``) the error
        estimate of :math:`\theta` (else ``None``).

    Notes
    -----
    The stages are those of :func:`transportkit.runge_kutta.rk_step` on the vector :math:`(\theta, \mathrm{vec}X)`
    (just :math:`\theta` when ``X_dot`` is ``None``); the first stage is evaluated once.
    """
    tab = get_tableau(method)
    later = rhs if rhs_later is None else rhs_later
    xp = array_namespace(theta, X)
    p = theta.shape[0]
    vt, vx, diag0 = rhs(t, theta, X)
    coupled = vx is not None
    if coupled:
        z0 = xp.concat([theta, xp.reshape(X, (-1,))])
        k1 = xp.concat([vt, xp.reshape(vx, (-1,))])
    else:
        z0, k1 = theta, vt
    first = [k1]

    def f(tt: Any, z: Any) -> Any:
        if first:  # the first stage at (t, z0), evaluated above
            return first.pop()
        if not coupled:
            return later(tt, z, X)[0]
        a, b, _ = later(tt, z[:p], xp.reshape(z[p:], X.shape))
        return xp.concat([a, xp.reshape(b, (-1,))])

    err = None
    if tab.e is None:
        z = _rk_step(tab, f, t, h, z0)
    else:
        z, e, _ = _rk_step_error(tab, f, t, h, z0, k1=first.pop())
        err = e[:p]
    if coupled:
        return z[:p], xp.reshape(z[p:], X.shape), diag0, err
    return z, X, diag0, err
