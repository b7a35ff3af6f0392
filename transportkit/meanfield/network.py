r"""The shallow network :math:`f_n(x) = \frac1n\sum_i c_i\,\varphi(x; w_i)` and its particle view.

A network of width ``n`` *is* the empirical measure :math:`\mu_n = \frac1n\sum_i\delta_{\theta_i}` of its
particles :math:`\theta_i = (c_i, w_i)` (amplitude and unit parameters), stored as :class:`Particles` with
``c`` of shape ``(n,)`` and ``w`` of shape ``(n, p)``. With the data law :math:`\nu`, target ``f`` and residual
:math:`r = f_n - f`, the loss :math:`\ell = \frac12 E_\nu|f - f_n|^2` reads
(Rotskoff & Vanden-Eijnden, CPAM 2022, arXiv:1805.00915)

.. math::

    \ell = C_f - \frac1n\sum_i F(\theta_i) + \frac1{2n^2}\sum_{i,j} K(\theta_i,\theta_j),\quad
    F(\theta) = E_\nu[f(x)\,c\,\varphi(x;w)],\quad K(\theta,\theta') = E_\nu[c\varphi(x;w)\,c'\varphi(x;w')].

The **local potential** is :math:`V(\theta;\mu_n) = -F(\theta) + \frac1n\sum_j K(\theta,\theta_j) =
E_\nu[r(x)\,c\,\varphi(x;w)]` and the gradient flow in rescaled time (:math:`n\ell`) moves each particle with
the velocity :math:`\dot\theta_i = -\nabla_\theta V(\theta_i;\mu_n)`, i.e.

.. math::

    \dot c_i = -E_\nu[r(x)\,\varphi(x;w_i)],\qquad \dot w_i = -c_i\,E_\nu[r(x)\,\nabla_w\varphi(x;w_i)].

Here the expectations are Monte Carlo averages over a data batch; problems with closed forms (see
:mod:`transportkit.meanfield.problems`) evaluate them exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from .._backend import resolve_backend
from .._results import Result
from .units import Unit, get_unit

__all__ = ["FieldEval", "Particles", "ShallowNetwork", "mc_field"]


@dataclasses.dataclass
class Particles(Result):
    """The particles :math:`\\theta_i = (c_i, w_i)`: amplitudes ``c`` ``(n,)`` and unit parameters ``w`` ``(n, p)``."""

    c: Any
    w: Any

    @property
    def n(self) -> int:
        return int(self.c.shape[0])


class FieldEval(NamedTuple):
    """One evaluation of the particle field: ``loss`` (0-d), local potential ``V`` ``(n,)``, velocities
    ``vc`` ``(n,)`` and ``vw`` ``(n, p)``."""

    loss: Any
    V: Any
    vc: Any
    vw: Any


def mc_field(unit: Unit, c: Any, W: Any, X: Any, y: Any, xp: Any, train_amplitudes: bool = True) -> FieldEval:
    """Loss, local potential and velocities by a Monte Carlo average over the batch ``(X, y)``.

    :math:`\\ell = \\frac1{2B}\\sum_b r_b^2`, :math:`V_i = \\frac cB\\sum_b r_b\\Phi_{bi}`,
    :math:`\\dot c_i = -\\frac1B\\sum_b r_b\\Phi_{bi}`,
    :math:`\\dot w_i = -\\frac{c_i}B\\sum_b r_b\\nabla_w\\varphi(x_b;w_i)`
    with :math:`r = \\Phi c/n - y` (internal: arrays already on one backend).
    """
    n, B = c.shape[0], X.shape[0]
    Phi = unit.features(X, W, xp)
    r = Phi @ c / n - y
    loss = 0.5 * xp.mean(r * r)
    g = (r @ Phi) / B
    V = c * g
    vc = -g if train_amplitudes else xp.zeros_like(g)
    vw = -unit.vjp(X, W, r[:, None] * (c[None, :] / B), xp)
    return FieldEval(loss, V, vc, vw)


class ShallowNetwork:
    """:math:`f_n(x) = \\frac1n\\sum_i c_i\\varphi(x; w_i)` (mean-field scaling) for a :class:`~.units.Unit`.

    The methods evaluate the network and its particle view on a batch ``X`` (``(B, d)``), with Monte Carlo
    estimates of :math:`F`, :math:`K`, :math:`V` and the velocities over that batch.
    """

    def __init__(self, unit: str | Unit = "relu", *, train_amplitudes: bool = True, **unit_kwargs: Any):
        self.unit = get_unit(unit, **unit_kwargs)
        self.train_amplitudes = bool(train_amplitudes)

    def _prep(self, particles: Particles, *arrays: Any):
        be = resolve_backend(particles.c, particles.w, *arrays)
        c, W = be.asarray(particles.c), be.asarray(particles.w)
        if c.ndim != 1 or W.ndim != 2 or W.shape[0] != c.shape[0]:
            raise ValueError(f"particles need c of shape (n,) and w of shape (n, p); got {c.shape}, {W.shape}")
        out = [be.asarray(a) for a in arrays]
        for a in out[:1]:
            if a.ndim != 2:
                raise ValueError(f"X must have shape (B, d), got {a.shape}")
        return be, c, W, out

    def __call__(self, particles: Particles, X: Any) -> Any:
        """:math:`f_n(x_b) = \\frac1n\\sum_i c_i\\varphi(x_b; w_i)`, shape ``(B,)``."""
        be, c, W, (X,) = self._prep(particles, X)
        return self.unit.features(X, W, be.xp) @ c / c.shape[0]

    def potential_F(self, particles: Particles, X: Any, y: Any) -> Any:
        """Monte Carlo :math:`F(\\theta_i) = \\frac1B\\sum_b y_b\\,c_i\\varphi(x_b; w_i)`, shape ``(n,)``."""
        be, c, W, (X, y) = self._prep(particles, X, y)
        return c * (y @ self.unit.features(X, W, be.xp)) / X.shape[0]

    def kernel_K(self, particles: Particles, X: Any) -> Any:
        """Monte Carlo :math:`K(\\theta_i,\\theta_j) = \\frac1B\\sum_b c_i\\varphi(x_b;w_i)c_j\\varphi(x_b;w_j)`,
        shape ``(n, n)``."""
        be, c, W, (X,) = self._prep(particles, X)
        P = self.unit.features(X, W, be.xp) * c[None, :]
        return be.xp.matrix_transpose(P) @ P / X.shape[0]

    def field(self, particles: Particles, X: Any, y: Any) -> FieldEval:
        """Loss, local potential :math:`V(\\theta_i;\\mu_n)` and velocities :math:`-\\nabla V` over ``(X, y)``."""
        be, c, W, (X, y) = self._prep(particles, X, y)
        return mc_field(self.unit, c, W, X, y, be.xp, self.train_amplitudes)

    def __repr__(self) -> str:
        return f"ShallowNetwork({self.unit!r}, train_amplitudes={self.train_amplitudes})"
