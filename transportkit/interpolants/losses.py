r"""Quadratic losses of the interpolant fields (Albergo, Boffi &
Vanden-Eijnden 2023, arXiv:2303.08797, Theorem 2.8 and §2.3), in the Array API.

Each returns the sample mean of a per-sample loss whose expectation equals :math:`\tfrac12 E|\hat f - f|^2` plus a
constant, so the exact field is the minimizer; the functions are differentiable on torch/jax (pass them to
``value_and_grad``). Inputs: a model ``f(t, x) -> (n, d)``, an :class:`Interpolant`, samples ``x0, x1, z`` of
shape (n, d) and times ``t`` of shape (n,).

- velocity: :math:`\tfrac12|\hat b(t,x_t)|^2 - \dot R\cdot\hat b(t,x_t)`,
  :math:`\dot R = \alpha'x_0+\beta'x_1+\gamma'z`;
- score: :math:`\tfrac12|\hat s|^2 + \gamma^{-1} z\cdot\hat s` (one-sided: :math:`\alpha^{-1} x_0\cdot\hat s`);
- denoiser: :math:`\tfrac12|\hat\eta_1|^2 - x_1\cdot\hat\eta_1`;
  noise denoiser: :math:`\tfrac12|\hat\eta_z|^2 - z\cdot\hat\eta_z`;
- "b and eta together": the velocity loss plus the noise-denoiser loss.

``antithetic=True`` evaluates at :math:`x_t^\pm = \alpha x_0 + \beta x_1 \pm \gamma z`, pairing :math:`\pm z` (the
variance reduction of the reference code for the :math:`1/\gamma` terms), and averages the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from .._typing import Array
from .interpolant import _col

__all__ = ["b_eta_loss", "denoiser_loss", "eta_z_loss", "score_loss", "velocity_loss"]


def _prep(interp: Any, t: Any, x0: Any, x1: Any) -> tuple[Any, Any]:
    xp = array_namespace(x0, x1, t)
    return xp, interp.coefficients(_col(t), xp)


def _pm(interp: Any, c: Any, x0: Any, x1: Any, z: Any, antithetic: bool) -> list[tuple[Any, float]]:
    """[(x_t, z-sign)] for the +z (and -z) evaluations."""
    base = c.a * x0 + c.b * x1
    if z is None or interp.one_sided:
        return [(base, 1.0)]
    out = [(base + c.g * z, 1.0)]
    if antithetic:
        out.append((base - c.g * z, -1.0))
    return out


def _mean(term: Callable[[Any, Any, float], Any], interp: Any, t: Any, x0: Any, x1: Any, z: Any, antithetic: bool
          ) -> Array:  # fmt: skip
    """The batch mean of ``term(c, x_t, sign)`` (per-sample values, shape (n,)) averaged over the +z (and, with
    ``antithetic``, -z) evaluations; ``c`` holds the interpolant's coefficients at ``t``."""
    xp, c = _prep(interp, t, x0, x1)
    terms = [xp.mean(term(c, xt, sgn)) for xt, sgn in _pm(interp, c, x0, x1, z, antithetic)]
    return sum(terms) / len(terms)


def _sq_minus(xp: Any, e: Any, y: Any) -> Any:
    r""":math:`\tfrac12|e|^2 - y\cdot e` per sample."""
    return 0.5 * xp.sum(e * e, axis=-1) - xp.sum(y * e, axis=-1)


def velocity_loss(b: Callable, interp: Any, t: Any, x0: Any, x1: Any, z: Any = None, *, antithetic: bool = True
                  ) -> Array:  # fmt: skip
    r"""Mean of :math:`\tfrac12|\hat b(t,x_t)|^2 - \dot R\cdot\hat b(t,x_t)`."""
    xp = array_namespace(x0, x1, t)

    def term(c: Any, xt: Any, sgn: float) -> Any:
        rd = c.ad * x0 + c.bd * x1
        if z is not None and not interp.one_sided:
            rd = rd + sgn * interp.schedule.gamma_dot(_col(t), xp) * z
        return _sq_minus(xp, b(t, xt), rd)

    return _mean(term, interp, t, x0, x1, z, antithetic)


def score_loss(s: Callable, interp: Any, t: Any, x0: Any, x1: Any, z: Any = None, *, antithetic: bool = True
               ) -> Array:  # fmt: skip
    r"""Mean of :math:`\tfrac12|\hat s|^2 + \gamma^{-1}z\cdot\hat s` (one-sided, Gaussian base x0:
    :math:`\tfrac12|\hat s|^2 + \alpha^{-1}x_0\cdot\hat s`). Keep t away from where :math:`\gamma` (or α) vanishes."""
    xp = array_namespace(x0, x1, t)

    def term(c: Any, xt: Any, sgn: float) -> Any:
        lin = (x0 / c.a) if interp.one_sided else (sgn * z / c.g)
        return _sq_minus(xp, s(t, xt), -lin)

    return _mean(term, interp, t, x0, x1, z, antithetic)


def denoiser_loss(eta: Callable, interp: Any, t: Any, x0: Any, x1: Any, z: Any = None, *, antithetic: bool = True
                  ) -> Array:  # fmt: skip
    r"""Mean of :math:`\tfrac12|\hat\eta_1(t,x_t)|^2 - x_1\cdot\hat\eta_1(t,x_t)` (minimizer :math:`E[x_1|x_t]`)."""
    xp = array_namespace(x0, x1, t)
    return _mean(lambda c, xt, sgn: _sq_minus(xp, eta(t, xt), x1), interp, t, x0, x1, z, antithetic)


def eta_z_loss(eta: Callable, interp: Any, t: Any, x0: Any, x1: Any, z: Any, *, antithetic: bool = True) -> Array:
    r"""Mean of :math:`\tfrac12|\hat\eta_z(t,x_t)|^2 - z\cdot\hat\eta_z(t,x_t)` (minimizer :math:`E[z|x_t]`)."""
    xp = array_namespace(x0, x1, t)
    return _mean(lambda c, xt, sgn: _sq_minus(xp, eta(t, xt), sgn * z), interp, t, x0, x1, z, antithetic)


def b_eta_loss(
    b: Callable, eta: Callable, interp: Any, t: Any, x0: Any, x1: Any, z: Any, *, antithetic: bool = True
) -> Array:
    """The velocity and noise-denoiser objectives together (one model pair, one batch)."""
    return velocity_loss(b, interp, t, x0, x1, z, antithetic=antithetic) + eta_z_loss(
        eta, interp, t, x0, x1, z, antithetic=antithetic
    )
