r"""Exact fields of one-sided interpolants :math:`x_t = \alpha z + \beta x_1` toward the high-dimensional models of
:mod:`transportkit.highdim_targets`, in O(n·d) (no d×d matrix, no (n, d, d) array): d = 10^4, n = 2000 runs in
seconds (Aranguri, Biroli, Mézard & Vanden-Eijnden 2025, arXiv:2501.00988), §2.4).

**Symmetric mixture** :math:`p N(\mu, \sigma^2 I) + (1-p) N(-\mu, \sigma^2 I)`, :math:`\mu = m\mathbb 1`,
:math:`h = \tfrac12\log\frac p{1-p}`, :math:`D = \alpha^2 + \beta^2\sigma^2`, :math:`A = (\alpha\alpha' +
\beta\beta'\sigma^2)/D`, :math:`T = \tanh(h + \beta\mu\cdot x/D)`:

.. math:: b = A\,x + (\beta' - \beta A)\,\mu\,T,\qquad s = -(x - \beta\mu T)/D,\qquad
          E[x_1|x_t = x] = \tfrac{\beta\sigma^2}{D} x + (1 - \tfrac{\beta^2\sigma^2}{D})\,\mu T,

(for VP, :math:`\alpha^2+\beta^2 = 1`, this is §1.7(c); for the high-dimensional "VE" path :math:`\alpha =
\sqrt{d(1-\tau^2)}`, :math:`\beta = \tau` it is the VE drift of §2.4). :math:`\nabla b = A I + K(x)\,\hat\mu\hat\mu^T`
with :math:`K = (\beta' - \beta A)\,\beta|\mu|^2(1 - T^2)/D`, so :math:`\|\nabla b\|_2 = \max(|A|, |A + K|)`.

**Curie–Weiss** (large-d limit, spins i.i.d. with mean :math:`\pm m` in component :math:`\pm`), with
:math:`\kappa = \beta/\alpha^2`: :math:`E[\sigma_i|x,\pm] = \tanh(\kappa x_i \pm \operatorname{atanh} m)`, component
weights :math:`\propto W_\pm\prod_i(1 \pm m\tanh\kappa x_i)` (log space), and
:math:`b = \tfrac{\alpha'}{\alpha}x + (\beta' - \tfrac{\alpha'}{\alpha}\beta)\,E[\sigma|x]` (singular at
:math:`\alpha = 0`: the target is discrete; end the time grid before t = 1).
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import Backend, host_backend
from ..highdim_targets import CurieWeiss, SymmetricMixture
from .field import BoundField, Field
from .interpolant import Interpolant, _col

__all__ = ["CurieWeissField", "SymmetricMixtureField", "symmetric_jacobian_moments"]

_LOG_2PI = math.log(2.0 * math.pi)


def _check(interpolant: Any, target: Any) -> Interpolant:
    if isinstance(interpolant, str):
        interpolant = Interpolant(interpolant)
    if not isinstance(interpolant, Interpolant):
        raise TypeError(f"interpolant must be an Interpolant or a schedule name, got {type(interpolant).__name__}")
    if not interpolant.one_sided:
        raise ValueError(
            f"the exact field of {type(target).__name__} is for one-sided interpolants, got {interpolant!r}"
        )
    return interpolant


class _HighDimField(Field):
    """The exact field of a one-sided interpolant toward a high-dimensional target (base N(0, I)), evaluated by its
    bound class ``_bound_class``."""

    _bound_class: type

    def __init__(self, interpolant: Interpolant | str, target: Any):
        self.interpolant = _check(interpolant, target)
        self.target = target
        self.dim = target.dim
        self.backend = None

    def __repr__(self) -> str:
        return f"exact_field({self.interpolant!r}, {self.target!r})"

    def _make_bound(self, be: Backend) -> Any:
        return self._bound_class(be, self)


class SymmetricMixtureField(_HighDimField):
    """The exact field toward a :class:`~transportkit.targets.SymmetricMixture` (base N(0, I)); see the module
    docstring."""

    target: SymmetricMixture
    #: ``"z"``: the two-sided noise's :math:`E[z|x_t=x] = 0`; ``"x0"``: the base variable
    denoisers = ("x0", "x1", "z")

    def _terms_host(self, t: Any) -> dict[str, Any]:
        """The scalar coefficients at host times ``t`` (shape (T,))."""
        xp = host_backend().xp
        c = self.interpolant.coefficients(t, xp)
        s2, m, d = self.target.sigma**2, self.target.m, self.dim
        D = c.a**2 + c.b**2 * s2
        A = (c.aad + c.bbd * s2) / D
        return {"D": D, "A": A, "K0": (c.bbd - c.b**2 * A) * m * m * d / D, "b": c.b}

    def _lipschitz_exact(self, ts: Any) -> tuple[Any, Any]:
        r"""``(E||grad b||^2, sup_x ||grad b||)`` at host times ``ts`` (see :func:`symmetric_jacobian_moments`)."""
        tt = self._terms_host(ts)
        T = self.target
        var = tt["b"] ** 2 * (T.m**2 * T.dim) / tt["D"]
        return symmetric_jacobian_moments(tt["A"], tt["K0"], var, T.h, T.p)


def symmetric_jacobian_moments(A: Any, K0: Any, var: Any, h: float, p: float) -> tuple[Any, Any]:
    r"""For the symmetric mixture's :math:`\|
abla b\|_2 = \max(|A|, |A + K_0(1-T^2)|)`, :math:`T = 	anh v`,
    with :math:`v = h + \beta\mu\cdot x/D` Gaussian under each component (mean :math:`h \pm` ``var``, variance
    ``var``): ``(E||grad b||^2, sup_x ||grad b||)`` per entry of the host arrays ``A, K0, var``. The expectation by
    the trapezoid rule on the union of a grid resolving :math:`\mathrm{sech}^2` and one resolving the Gaussian."""
    xp = host_backend().xp
    A, K0, var = (xp.reshape(xp.asarray(v, dtype=xp.float64), (-1,)) for v in (A, K0, var))
    sup = xp.maximum(xp.abs(A), xp.abs(A + K0))
    sd = xp.sqrt(var)
    core = xp.linspace(-40.0, 40.0, 801, dtype=xp.float64)
    rel = xp.linspace(-12.0, 12.0, 801, dtype=xp.float64)
    out = []
    for lo in range(0, A.shape[0], 256):  # blocks of times: (block, 1602) arrays
        a, k0, s = A[lo:lo + 256, None], K0[lo:lo + 256, None], xp.maximum(sd[lo:lo + 256, None], 1e-6)
        total = xp.zeros(a.shape[0], dtype=xp.float64)
        for sgn, wk in ((1.0, p), (-1.0, 1.0 - p)):
            mean = h + sgn * s * s
            grid = xp.sort(xp.concat([xp.broadcast_to(core[None, :], (a.shape[0], core.shape[0])),
                                      mean + s * rel[None, :]], axis=1), axis=1)
            dens = xp.exp(-0.5 * ((grid - mean) / s) ** 2) / (s * math.sqrt(2 * math.pi))
            f = xp.maximum(xp.abs(a + k0 * (1.0 - xp.tanh(grid) ** 2)), xp.abs(a)) ** 2
            g = f * dens
            quad = xp.sum(0.5 * (g[:, 1:] + g[:, :-1]) * (grid[:, 1:] - grid[:, :-1]), axis=1)
            point = (xp.maximum(xp.abs(a + k0 * (1.0 - xp.tanh(mean) ** 2)), xp.abs(a)) ** 2)[:, 0]
            total = total + wk * xp.where(sd[lo:lo + 256] < 1e-6, point, quad)  # a point mass when the spread vanishes
        out.append(total)
    return xp.concat(out), sup


class _BoundSymmetric(BoundField):
    def __init__(self, be: Backend, field: SymmetricMixtureField):
        super().__init__(be, field.interpolant, field.dim)
        self.field = field
        T = field.target
        self.m, self.s2, self.h, self.p = T.m, T.sigma**2, T.h, T.p

    def _c(self, t: Any) -> tuple[Any, ...]:
        c = self.interpolant.coefficients(t, self.xp)
        D = c.a**2 + c.b**2 * self.s2
        A = (c.aad + c.bbd * self.s2) / D
        return c, D, A

    def _tanh(self, c: Any, D: Any, x: Any) -> Any:
        return self.xp.tanh(self.h + c.b * self.m * self.xp.sum(x, axis=-1) / D)

    def velocity(self, t: Any, x: Any) -> Any:
        c, D, A = self._c(t)
        T = self._tanh(c, D, x)
        return _col(A) * x + ((c.bd - c.b * A) * self.m * T)[:, None]

    def score(self, t: Any, x: Any) -> Any:
        c, D, _ = self._c(t)
        T = self._tanh(c, D, x)
        return -(x - (c.b * self.m * T)[:, None]) / _col(D)

    def denoiser(self, t: Any, x: Any, which: str) -> Any:
        c, D, _ = self._c(t)
        T = self._tanh(c, D, x)
        x1 = _col(c.b * self.s2 / D) * x + ((1.0 - c.b**2 * self.s2 / D) * self.m * T)[:, None]
        if which == "x1":
            return x1
        if which == "z":  # the gamma-noise of a two-sided interpolant: none here (as for ExactField)
            return self.xp.zeros_like(x)
        return (x - _col(c.b) * x1) / _col(c.a)  # E[x_0 | x]: the base variable, from x = alpha x_0 + beta x_1

    def divergence(self, t: Any, x: Any) -> Any:
        c, D, A = self._c(t)
        T = self._tanh(c, D, x)
        d = x.shape[-1]
        return d * A + (c.bd - c.b * A) * self.m * (1.0 - T * T) * (c.b * self.m / D) * d

    def jvp(self, t: Any, x: Any, v: Any) -> Any:
        c, D, A = self._c(t)
        T = self._tanh(c, D, x)
        k = (c.bd - c.b * A) * self.m * (1.0 - T * T) * (c.b * self.m / D)
        return _col(A) * v + (k * self.xp.sum(v, axis=-1))[:, None]

    def log_density(self, t: Any, x: Any) -> Any:
        xp = self.xp
        c, D, _ = self._c(t)
        d = x.shape[-1]
        proj = xp.sum(x, axis=-1)
        base = -(xp.sum(x * x, axis=-1) + (c.b * self.m) ** 2 * d) / (2.0 * D) - 0.5 * d * (_LOG_2PI + xp.log(D))
        u = c.b * self.m * proj / D
        lp, lm = math.log(self.p) + u, math.log1p(-self.p) - u
        mx = xp.maximum(lp, lm)
        return base + mx + xp.log(xp.exp(lp - mx) + xp.exp(lm - mx))

    def initial_samples(self, n: int, t0: float, gen: Any) -> Any:
        r"""Exact draws of :math:`\rho_{t_0}`: :math:`\alpha(t_0) z + \beta(t_0) x_1` (the base when the boundary
        condition holds at :math:`t_0 = 0`)."""
        z = gen.normal((n, self.dim))
        if float(t0) == 0.0 and not self.interpolant.schedule.approximate:
            return z
        c = self.interpolant.coefficients(self.be.asarray(float(t0)), self.xp)
        return c.a * z + c.b * self.field.target._sample(n, gen, self.be)

    def base_log_prob(self, x: Any, t0: float) -> Any:
        return self.log_density(self.be.asarray(float(t0)), x)


class CurieWeissField(_HighDimField):
    """The exact field toward a :class:`~transportkit.targets.CurieWeiss` law (base N(0, I)); see the module
    docstring. Singular at :math:`\\alpha = 0` (t = 1): sample with ``t_span=(0, 1 - delta)``."""

    target: CurieWeiss
    #: :math:`E[\sigma|x_t = x]` only
    denoisers = ("x1",)


class _BoundCurieWeiss(BoundField):
    def __init__(self, be: Backend, field: CurieWeissField):
        super().__init__(be, field.interpolant, field.dim)
        self.field = field
        T = field.target
        self.m, self.log_w = T.m, T.log_w
        self.am = math.atanh(T.m) if T.m < 1.0 else math.inf

    def _mean_spin(self, c: Any, x: Any) -> Any:
        xp = self.xp
        kx = _col(c.b / c.a**2) * x
        tk = xp.tanh(kx)
        lp = self.log_w[0] + xp.sum(xp.log1p(self.m * tk), axis=-1)
        lm = self.log_w[1] + xp.sum(xp.log1p(-self.m * tk), axis=-1)
        rp = 1.0 / (1.0 + xp.exp(lm - lp))
        return _col(rp) * xp.tanh(kx + self.am) + _col(1.0 - rp) * xp.tanh(kx - self.am)

    def denoiser(self, t: Any, x: Any, which: str) -> Any:
        c = self.interpolant.coefficients(t, self.xp)
        return self._mean_spin(c, x)

    def velocity(self, t: Any, x: Any) -> Any:
        c = self.interpolant.coefficients(t, self.xp)
        r = c.aad / c.a**2  # alpha'/alpha
        return _col(r) * x + _col(c.bd - r * c.b) * self._mean_spin(c, x)

    def initial_samples(self, n: int, t0: float, gen: Any) -> Any:
        z = gen.normal((n, self.dim))
        if float(t0) == 0.0 and not self.interpolant.schedule.approximate:
            return z
        c = self.interpolant.coefficients(self.be.asarray(float(t0)), self.xp)
        return c.a * z + c.b * self.field.target._sample(n, gen, self.be)


SymmetricMixtureField._bound_class = _BoundSymmetric
CurieWeissField._bound_class = _BoundCurieWeiss
