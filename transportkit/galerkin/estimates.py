r"""A-posteriori error estimates of the Neural Galerkin solver.

With :math:`r_k` the residual of step :math:`k` on the samples (OtD: :math:`J\dot\theta - f`; DtO: the fit residual
over :math:`\Delta t`) and :math:`e_0 = u(\theta_0) - u_0`, the error :math:`e = u_\theta - u^*` obeys
:math:`\dot e = r + [f(u_\theta) - f(u^*)]`; Zhang, Chen, Vanden-Eijnden & Peherstorfer (arXiv:2404.01145) bound it by
:math:`\int_0^te^{L(t-s)}\|r(s)\|ds`. :func:`accumulate` evaluates that with :math:`L = 0` in two ways (norms
accumulated, or residuals accumulated point by point on fixed samples). Both replace the solution operator
:math:`S(t,s)` of the linearized flow in :math:`e(t) = \int_0^tS(t,s)r(s)ds` by the identity, which is what makes the
point-by-point estimate (``GalerkinResult.error_accumulated``) 2–4 times the true error on KdV (docs/galerkin.md).
Where the problem allows it, :mod:`.grid_error` integrates the error equation itself alongside the run
(``GalerkinResult.error_estimate``).
"""

from __future__ import annotations

from typing import Any


def rms(v: Any, xp: Any) -> Any:
    """Root mean square of a 1-D array (the :math:`L^2(\\nu_n)` norm on the samples)."""
    return xp.sqrt(xp.mean(v * v))


def accumulate(e0: float, residuals: list[float], signed: list[float], saved: list[int], h: float,
               fixed: bool) -> tuple[list[float], list[float]]:
    r"""``(error_bound, error_estimate)`` at the saved step indices ``saved``: the bound
    :math:`\|e_0\| + \sum_{k<K}h\|r_k\|` from the per-step RMS residuals, and the point-by-point accumulated
    :math:`\|e_0 + \sum_{k<K}h\,r_k\|` (``signed``, one per step; the bound when the samples are not ``fixed``)."""
    cum = [e0]
    for r in residuals:
        cum.append(cum[-1] + h * r)
    bound = [cum[k] for k in saved]
    signed_all = [e0, *signed]
    est = [signed_all[k] for k in saved] if fixed else bound
    return bound, est
