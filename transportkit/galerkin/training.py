r"""Sequential-in-time training steps of the Neural Galerkin solver: optimize-then-discretize (OtD) and
discretize-then-optimize (DtO).

OtD integrates the Dirac–Frenkel ODE :math:`\dot\theta = J^+f` with an explicit Runge–Kutta scheme (Euler, RK4,
adaptive Dormand–Prince); DtO discretizes in time first and fits :math:`\theta_{k+1}` to the time-stepped
solution, :math:`\min_\theta\|u(\theta) - u(\theta_k) - \Delta t[(1-\alpha)f_k + \alpha f_{k+1}(\theta)]\|^2`,
by Gauss–Newton (Zhang, Chen, Vanden-Eijnden & Peherstorfer, "Sequential-in-time training of nonlinear
parametrizations for solving time-dependent partial differential equations", arXiv:2404.01145), or, for explicit
Euler, by a fixed number of Adam steps on fixed or freshly drawn samples (:mod:`.dto_adam`).

Each builder returns the pure step ``(k, state, key, h) -> (state, outputs)`` that :func:`.solver.solve` runs block
by block; ``state = (theta, X, h_adaptive, draw_count, accumulated_error, propagated_error)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from .._backend import Backend
from .._validation import as_bool, as_choice, as_count, as_real
from ..runge_kutta import error_norm, get_tableau, next_step_factor
from ._compiling import Loops
from .dto_adam import adam_dto_step
from .estimates import rms
from .grid_error import GridErrorEquation
from .implicit import gauss_newton_solve, implicit_parts
from .lstsq import lstsq_arrays, normal_lstsq
from .params import Parametrization
from .particles import Sampler
from .pde import PDE
from .schemes import rk_step

SCHEMES = ("euler", "rk4", "dopri5", "backward_euler", "crank_nicolson")
#: the implicit weight alpha of each discretize-then-optimize scheme (0: explicit Euler fit)
DTO_ALPHA = {"euler": 0.0, "backward_euler": 1.0, "crank_nicolson": 0.5}
#: how a DtO step is fitted: Gauss–Newton (every scheme) or Adam (explicit Euler, :mod:`.dto_adam`)
OPTIMIZERS = ("gauss_newton", "adam")
#: Gauss–Newton stopping tolerance of the implicit schemes (relative increment)
NEWTON_TOL = 1e-10


def _check_training(scheme: Any, training: Any) -> tuple[str, str]:
    """``(scheme, training)`` with their defaults, checked: DtO needs a scheme that discretizes in time first."""
    if training is not None:
        if not isinstance(training, str):
            raise TypeError(f"training must be 'otd' or 'dto', got {training!r}")
        training = as_choice("training", training.lower(), ("otd", "dto"))
    if scheme is not None:
        scheme = as_choice("scheme", scheme, SCHEMES)
    if training is None:
        training = "dto" if scheme in ("backward_euler", "crank_nicolson") else "otd"
    if scheme is None:
        scheme = "rk4" if training == "otd" else "euler"
    if training == "dto" and scheme not in DTO_ALPHA:
        raise ValueError(f"training='dto' fits each time step of a scheme that discretizes first: scheme must be one "
                         f"of {', '.join(map(repr, DTO_ALPHA))}; got {scheme!r}")
    if training == "otd" and scheme in ("backward_euler", "crank_nicolson"):
        raise ValueError(f"scheme={scheme!r} is a discretize-then-optimize scheme: pass training='dto' (or an "
                         "explicit scheme 'euler', 'rk4', 'dopri5' for training='otd')")
    return scheme, training


def _check_optimizer(training: str, scheme: str, optimizer: Any, iterations: Any, learning_rate: Any, resample: Any,
                     draws: bool) -> tuple[str, int, float, bool]:
    """``(optimizer, iterations, learning_rate, resample)`` checked; ``iterations``, ``learning_rate`` and
    ``resample=True`` belong to ``optimizer="adam"`` (DtO with explicit Euler), whose defaults are 50, 3e-4, False;
    ``resample=True`` needs a sampler that draws (``draws``)."""
    optimizer = as_choice("optimizer", optimizer, OPTIMIZERS)
    if optimizer == "adam":
        if training != "dto" or scheme != "euler":
            raise ValueError(f"optimizer='adam' fits the explicit-Euler DtO step: pass training='dto', "
                             f"scheme='euler' (got training={training!r}, scheme={scheme!r})")
        iterations = as_count("iterations", 50 if iterations is None else iterations, low=1)
        learning_rate = as_real("learning_rate", 3e-4 if learning_rate is None else learning_rate, low=0.0,
                                low_open=True)
        resample = as_bool("resample", resample)
        if resample and not draws:
            raise ValueError("resample=True draws the samples anew at every Adam iteration: pass a sampler that "
                             "draws (e.g. UniformSampler(low, high, n), resample=True), not a fixed grid")
        return optimizer, iterations, learning_rate, resample
    for name, value, default in (("iterations", iterations, None), ("learning_rate", learning_rate, None),
                                 ("resample", resample, False)):
        if value is not default and value != default:
            raise ValueError(f"{name}= is an argument of optimizer='adam' (training='dto', scheme='euler'); the "
                             f"Gauss-Newton fit takes newton_iters=; got {name}={value!r}")
    return optimizer, 50, 3e-4, False


def _value_and_grad(be: Backend, scheme: str, derivatives: str) -> Callable | None:
    """The backend's ``value_and_grad`` for the implicit schemes' :math:`\\partial_\\theta f` (``None``: finite
    differences); ``CapabilityError`` when ``derivatives="autodiff"`` and the backend has none."""
    if scheme not in ("backward_euler", "crank_nicolson") or derivatives == "fd":
        return None
    if derivatives == "autodiff" and be.value_and_grad is None:
        be.require("value_and_grad")
    return be.value_and_grad


def _dto_residual(pde: PDE, param: Parametrization, alpha: float, t: Any, h: Any, th0: Any, th1: Any,
                  X: Any) -> Any:
    """The DtO fit residual on the samples,
    :math:`(u(\\theta_1) - u(\\theta_0) - h[(1-\\alpha)f(t,\\theta_0) + \\alpha f(t+h,\\theta_1)])/h`,
    shape ``(n,)``."""
    xp = array_namespace(th0, X)
    f0 = param.evaluate(th0, X, ("u", *pde.needs))
    f1 = param.evaluate(th1, X, ("u", *pde.needs))
    target = f0["u"] + (h * (1.0 - alpha)) * pde.rhs(t, X, f0, xp)
    if alpha > 0:
        target = target + (h * alpha) * pde.rhs(t + h, X, f1, xp)
    return (f1["u"] - target) / h


def _make_step(pde: PDE, param: Parametrization, sampler: Sampler, scheme: str, *, rcond: float, ridge: float,
               rtol: float, atol: float, newton_iters: int, value_and_grad: Callable | None, loops: Loops,
               gen: Any, max_steps: int, training: str = "otd", lstsq: str = "auto",
               grid: GridErrorEquation | None = None, optimizer: str = "gauss_newton", iterations: int = 50,
               learning_rate: float = 3e-4, resample: bool = False) -> Callable:
    """The pure time step ``(k, state, key, h) -> (state, (rank, cond, finite, count, residual, accumulated,
    propagated))`` of ``scheme`` and ``training``, with ``state = (theta, X, h_adaptive, draw_count, acc, err)``
    (``acc``: residuals accumulated on the samples; ``err``: the error propagated by ``grid``'s error equation, when
    given); step ``k`` covers :math:`[kh, (k+1)h]`. ``optimizer="adam"`` (DtO, explicit Euler): the first-order fit
    of :mod:`.dto_adam` with ``iterations``, ``learning_rate``, ``resample``."""

    def rhs(t: Any, th: Any, XX: Any) -> tuple[Any, Any, Any]:
        xp = array_namespace(th, XX)
        fields = param.evaluate(th, XX, ("jac", *pde.needs))
        f = pde.rhs(t, XX, fields, xp)
        v, diag = lstsq_arrays(fields["jac"], f, rcond=rcond, ridge=ridge)
        diag = (*diag, fields["jac"] @ v - f)
        return v, (sampler.velocity(XX, param, th, v) if sampler.coupled else None), diag

    def rhs_later(t: Any, th: Any, XX: Any) -> tuple[Any, Any, Any]:
        # the later Runge–Kutta stages report no diagnostics: the normal equations where the ridge allows
        if lstsq == "svd":
            return rhs(t, th, XX)
        xp = array_namespace(th, XX)
        fields = param.evaluate(th, XX, ("jac", *pde.needs))
        v = normal_lstsq(fields["jac"], pde.rhs(t, XX, fields, xp), rcond=rcond, ridge=ridge, loops=loops)
        return v, (sampler.velocity(XX, param, th, v) if sampler.coupled else None), None

    def out(k: Any, theta_old: Any, theta: Any, X: Any, h_ad: Any, count: Any, acc: Any, err: Any, h: Any,
            diag: tuple) -> tuple:
        # diag[3]: the residual r_k on the samples; acc accumulates e_0 + sum_k h r_k (the error equation with S = I);
        # err: e_{k+1} = u(theta_{k+1}) - Phi_h(u(theta_k) - e_k) on the periodic grid (the error equation)
        xp = loops.be.xp
        acc = acc + h * diag[3]
        if grid is None:
            prop = xp.full_like(rms(acc, xp), xp.nan)
        else:  # err = (e_k, u(theta_k)) on the grid
            u_new = param.value(theta, X)
            err = (grid.step(k * h, h, X, err[1], u_new, err[0]), u_new)
            prop = rms(err[0], xp)
        return (theta, X, h_ad, count, acc, err), (diag[0], diag[1], xp.all(xp.isfinite(theta)), count,
                                                   rms(diag[3], xp), rms(acc, xp), prop)

    if training == "otd" and scheme in ("euler", "rk4"):

        def step(k: Any, state: tuple, key: Any, h: Any) -> tuple:
            theta0, X, h_ad, count, acc, err = state
            X = sampler.refresh(X, param, theta0, gen.at(key, k))
            theta, X, diag, _ = rk_step(rhs, k * h, theta0, X, h, scheme, rhs_later=rhs_later)
            return out(k, theta0, theta, X, h_ad, count, acc, err, h, diag)

        return step
    if training == "dto" and optimizer == "adam":
        return adam_dto_step(pde, param, sampler, iterations=iterations, learning_rate=learning_rate,
                             resample=resample, rcond=rcond, loops=loops, gen=gen, out=out)
    if training == "dto":
        alpha = DTO_ALPHA[scheme]
        parts = implicit_parts(pde, param, alpha=alpha, rcond=rcond, ridge=ridge, value_and_grad=value_and_grad)

        def step(k: Any, state: tuple, key: Any, h: Any) -> tuple:
            theta0, X, h_ad, count, acc, err = state
            X = sampler.refresh(X, param, theta0, gen.at(key, k))
            theta, diag = gauss_newton_solve(parts, k * h, h, theta0, X, iters=newton_iters, tol=NEWTON_TOL,
                                             loops=loops)
            res = _dto_residual(pde, param, alpha, k * h, h, theta0, theta, X)
            return out(k, theta0, theta, X, h_ad, count, acc, err, h, (*diag[:3], res))

        return step
    return _dopri5_step(rhs, rhs_later, sampler, param, rtol=rtol, atol=atol, loops=loops, gen=gen, out=out,
                        max_steps=max_steps)


def _dopri5_step(rhs: Callable, rhs_later: Callable, sampler: Sampler, param: Parametrization, *, rtol: float,
                 atol: float, loops: Loops, gen: Any, out: Callable, max_steps: int) -> Callable:
    """Adaptive Dormand–Prince 5(4) over one output interval :math:`[kh, (k+1)h]` (RMS error norm of
    :math:`\\theta`, Hairer–Nørsett–Wanner step-size control); the sampler refreshes before every attempt. The
    attempts of the whole run are counted (``count``) and stop at ``max_steps`` (then :func:`solve` raises)."""
    xp = loops.be.xp
    order = get_tableau("dopri5").order

    def step(k: Any, state: tuple, key: Any, h: Any) -> tuple:
        theta0, X, h_ad, count, acc, err = state
        theta = theta0
        zero = xp.zeros_like(h_ad)
        t_end = zero + (k + 1) * h  # an array also when k and h are Python numbers (uncompiled runs)
        limit = t_end - 1e-14 * xp.maximum(t_end, xp.ones_like(t_end))

        def cond(c: tuple) -> Any:
            return (c[0] < limit) & (c[4] < max_steps)

        def body(c: tuple) -> tuple:
            tt, th, XX, h_ad, count, _ = c
            hh = xp.minimum(h_ad, t_end - tt)
            XX = sampler.refresh(XX, param, th, gen.at(key, count))
            th_new, x_new, diag, err = rk_step(rhs, tt, th, XX, hh, "dopri5", rhs_later=rhs_later)
            en = error_norm(err, th, th_new, rtol, atol, xp, norm="rms")
            acc = (en <= 1.0) | (hh < 1e-12)
            return (xp.where(acc, tt + hh, tt), xp.where(acc, th_new, th), xp.where(acc, x_new, XX),
                    hh * next_step_factor(en, order, xp), count + 1, diag)

        _, theta, X, h_ad, count, diag = loops.while_loop(cond, body, (zero + k * h, theta, X, h_ad, count,
                                                                        (zero, zero, zero, xp.zeros_like(acc))))
        return out(k, theta0, theta, X, h_ad, count, acc, err, h, diag)

    return step
