r"""Discretize-then-optimize (DtO) time steps fitted by a first-order optimizer (Adam), optionally on fresh samples
at every iteration.

Each time step minimizes the DtO loss of the explicit Euler scheme over the domain,

.. math:: L_k(\theta) = \mathbb E_{x\sim\nu}\Big|\frac{u(x;\theta) - u(x;\theta_k)}{\Delta t}
          - f(t_k, x, u(x;\theta_k))\Big|^2,

by ``iterations`` Adam steps (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015,
arXiv:1412.6980) started at :math:`\theta_k` (warm start; the moments are reset every time step), each on a
batch :math:`x_1..x_n` of the sampler with the gradient
:math:`\nabla L \approx \tfrac2n J^T R`, :math:`J_{jl} = \partial_{\theta_l}u(x_j;\theta)`,
:math:`R_j = (u(x_j;\theta) - u(x_j;\theta_k))/\Delta t - f_j` (the parametrizations' analytic Jacobians: no
autodiff, every backend). With ``resample`` the batch is drawn anew at every iteration, so the optimizer descends
the population loss :math:`L_k` even when :math:`n` is below the number of parameters :math:`p`; without it the
batch is the step's sample (fixed grid points stay fixed) and the few warm-started steps stay near
:math:`\theta_k`.

Why: Zhang, Chen, Vanden-Eijnden & Peherstorfer, "Sequential-in-time training of nonlinear parametrizations for
solving time-dependent partial differential equations" (arXiv:2404.01145) call the tangent-space collapse of
optimize-then-discretize schemes a form of over-fitting: with :math:`n < p` the sampled least-squares problem is
solved exactly at every instant (and so is the Gauss–Newton fit of :mod:`.implicit`, whose minimum-norm steps fill
the null space of :math:`J` as OtD does). A first-order fit with a fixed budget per step does not solve it exactly:
directions the loss barely sees (small eigenvalues of :math:`E[J^TJ]`) are left near their warm start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from ._compiling import Loops
from .lstsq import lstsq_arrays
from .params import Parametrization
from .particles import Sampler
from .pde import PDE

__all__ = ["ADAM_BETAS", "ADAM_EPS", "adam_dto_step"]

#: Adam's moment decay rates (Kingma & Ba's defaults)
ADAM_BETAS = (0.9, 0.999)
#: Adam's denominator guard
ADAM_EPS = 1e-8


def adam_dto_step(pde: PDE, param: Parametrization, sampler: Sampler, *, iterations: int, learning_rate: float,
                  resample: bool, rcond: float, loops: Loops, gen: Any, out: Callable) -> Callable:
    r"""The pure time step ``(k, state, key, h) -> (state, outputs)`` of explicit-Euler DtO fitted by Adam (see the
    module docstring); ``out`` is the diagnostics closure of :func:`.training._make_step`.

    Draws: without ``resample`` the sampler refreshes once per step from ``gen.at(key, k)`` (as every other scheme);
    with it, iteration ``j`` of step ``k`` draws from ``gen.at(key, k * iterations + j)``. The reported ``rank`` and
    ``cond`` are those of :math:`J(\theta_{k+1})` on the last batch; the residual is :math:`R` there.
    """
    b1, b2 = ADAM_BETAS
    K = int(iterations)
    lr = float(learning_rate)

    def target(t: Any, h: Any, theta0: Any, X: Any) -> Any:
        xp = array_namespace(theta0, X)
        fk = param.evaluate(theta0, X, ("u", *pde.needs))
        return fk["u"] + h * pde.rhs(t, X, fk, xp)

    def step(k: Any, state: tuple, key: Any, h: Any) -> tuple:
        theta0, X, h_ad, count, acc, err = state
        xp = array_namespace(theta0, X)
        t = k * h
        if not resample:
            X = sampler.refresh(X, param, theta0, gen.at(key, k))
            g0 = target(t, h, theta0, X)
        n = X.shape[0]
        zero = xp.zeros_like(theta0)
        one = xp.ones_like(theta0[0])

        def cond(c: tuple) -> Any:
            return c[0] < K

        def body(c: tuple) -> tuple:
            j, th, m, v, p1, p2, XX = c
            if resample:
                XX = sampler.refresh(XX, param, theta0, gen.at(key, k * K + j))
                gj = target(t, h, theta0, XX)
            else:
                gj = g0
            fl = param.evaluate(th, XX, ("u", "jac"))
            R = (fl["u"] - gj) / h
            G = (2.0 / n) * (R @ fl["jac"])
            m = b1 * m + (1.0 - b1) * G
            v = b2 * v + (1.0 - b2) * G * G
            p1, p2 = p1 * b1, p2 * b2
            th = th - lr * (m / (1.0 - p1)) / (xp.sqrt(v / (1.0 - p2)) + ADAM_EPS)
            return j + 1, th, m, v, p1, p2, XX

        _, theta, _, _, _, _, X = loops.while_loop(cond, body, (xp.asarray(0), theta0, zero, zero, one, one, X))
        fl = param.evaluate(theta, X, ("u", "jac"))
        R = (fl["u"] - (target(t, h, theta0, X) if resample else g0)) / h
        _, diag = lstsq_arrays(fl["jac"], R, rcond=rcond)
        return out(k, theta0, theta, X, h_ad, count, acc, err, h, (*diag, R))

    return step
