r"""Transfer of a field between one-sided schedules without retraining (Albergo, Boffi & Vanden-Eijnden 2023,
arXiv:2303.08797).

Chen, Vanden-Eijnden & Xu, "Lipschitz-Guided Design of Interpolation Schedules in Generative Models" (2025,
arXiv:2509.01629). Two one-sided interpolants :math:`x_t = \alpha_t z + \beta_t x_1` and
:math:`\bar x_t = \bar\alpha_t z + \bar\beta_t x_1` with the same base are related pathwise (same :math:`z, x_1`) by

.. math:: \bar x_t = c(t)\, x_{\tau(t)},\qquad \theta(\tau(t)) = \bar\theta(t),\qquad
          c(t) = \sqrt{\frac{\bar\alpha_t^2 + \bar\beta_t^2}{\alpha_\tau^2 + \beta_\tau^2}},

with the angle :math:`\theta = \operatorname{atan2}(\beta, \alpha)` (matching the signal-to-noise ratio
:math:`\beta/\alpha`). Hence

.. math:: \bar b(t, x) = \frac{\dot c}{c} x + c\,\dot\tau\, b(\tau, x/c),\quad
          \bar s(t, x) = s(\tau, x/c)/c,\quad \bar\eta(t, x) = \eta(\tau, x/c),\quad
          \log\bar\rho_t(x) = \log\rho_\tau(x/c) - d\log c,

:math:`\dot\tau = \bar\theta'(t)/\theta'(\tau)`, :math:`\theta' = (\alpha\beta' - \alpha'\beta)/(\alpha^2+\beta^2)`,
:math:`\dot c/c = (\bar\alpha\bar\alpha' + \bar\beta\bar\beta')/(\bar\alpha^2+\bar\beta^2) - \dot\tau\,
(\alpha\alpha' + \beta\beta')/(\alpha^2+\beta^2)|_\tau`. :math:`\tau(t)` is the schedule's closed-form inverse angle
where it has one (every built-in), else bisection (64 halvings, traceable: no host sync).
"""

from __future__ import annotations

from typing import Any

from .._backend import Backend
from .._capabilities import declare
from .field import BoundField, Field
from .interpolant import Interpolant, _col
from .schedules import Schedule

__all__ = ["TransferredField", "transfer"]

_BISECTIONS = 64


@declare()
def transfer(field: Field, interpolant: Interpolant | str) -> TransferredField:
    r"""``field`` (a velocity, score and denoiser learned or known for its own one-sided schedule) re-expressed on
    ``interpolant`` (another one-sided schedule with the same base), without retraining: see the module docstring
    for the formulas (Chen, Vanden-Eijnden & Xu 2025, arXiv:2509.01629).

    Works for any :class:`~transportkit.interpolants.Field` (exact, feature-fitted, MLP). Times where the new
    schedule's angle lies outside the old one's range (e.g. into ``"ve"``, whose angle starts at
    :math:`\operatorname{atan}(1/\sigma_{\max})`) are clipped to the old schedule's end. Into a schedule whose
    :math:`\alpha'` is infinite at t = 1 (``"vp"``, ``"cosine"``, ``"ddpm"``) the transferred coefficients are
    infinite at t = 1: end the time grid before 1 there."""
    if isinstance(interpolant, str):
        interpolant = Interpolant(interpolant)
    if not isinstance(interpolant, Interpolant):
        raise TypeError(f"interpolant must be an Interpolant or a schedule name, got {type(interpolant).__name__}")
    if not (hasattr(field, "bind") and hasattr(field, "interpolant") and hasattr(field, "dim")):
        raise TypeError(f"field must be a transportkit Field (exact, fitted or MLP), got {type(field).__name__}")
    src = field.interpolant
    if not getattr(src, "one_sided", False):
        raise ValueError(f"transfer needs a one-sided field (gamma = 0); the field's interpolant is {src!r}")
    if not interpolant.one_sided:
        raise ValueError(f"transfer needs a one-sided target schedule (gamma = 0), got {interpolant!r}")
    return TransferredField(field, interpolant)


class TransferredField(Field):
    """See :func:`transfer`. ``source`` is the original field; its ``denoiser`` is :math:`\\eta_1(\tau, x/c)`
    (``"x1"``) or :math:`E[z|\bar x_t = x]` (``"z"``, ``"x0"``)."""

    denoisers = ("x0", "x1", "z")

    def __init__(self, field: Field, interpolant: Interpolant):
        self.source = field
        self.interpolant = interpolant
        self.dim = field.dim
        self.backend = getattr(field, "backend", None)
        self.base = getattr(field, "base", None)  # the same base: the transfer is pathwise in (x0, x1)

    def __repr__(self) -> str:
        return f"transfer({self.source!r}, {self.interpolant!r})"

    def _make_bound(self, be: Backend) -> _BoundTransfer:
        return _BoundTransfer(be, self)

    def time_map(self, t: Any, *, backend: Any = None) -> tuple[Any, Any]:
        r"""``(tau(t), c(t))``: the old schedule's time and the scale with :math:`\bar x_t = c\,x_\tau`."""
        from .._backend import resolve_backend

        be = resolve_backend(t, backend=backend)
        m = self.bind(be).map(be.asarray(t))
        return m[0], m[1]


def _theta(s: Schedule, t: Any, xp: Any) -> Any:
    return xp.atan2(s.beta(t, xp), s.alpha(t, xp))


def theta_inverse(s: Schedule, th: Any, xp: Any) -> Any:
    """The time whose angle atan2(beta, alpha) is ``th`` (clipped to the schedule's range), closed form or
    bisection."""
    zero = xp.zeros_like(th)
    lo_th, hi_th = _theta(s, zero, xp), _theta(s, zero + 1.0, xp)
    th = xp.clip(th, lo_th, hi_th) if th.ndim else xp.minimum(xp.maximum(th, lo_th), hi_th)
    if s.theta_inverse is not None:
        return xp.clip(s.theta_inverse(th, xp), 0.0, 1.0)
    lo, hi = zero, zero + 1.0
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        below = _theta(s, mid, xp) < th
        lo = xp.where(below, mid, lo)
        hi = xp.where(below, hi, mid)
    return 0.5 * (lo + hi)


class _BoundTransfer(BoundField):
    def __init__(self, be: Backend, field: TransferredField):
        super().__init__(be, field.interpolant, field.dim)
        self.inner = field.source.bind(be)
        self.src = field.source.interpolant.schedule
        self.dst = field.interpolant.schedule

    def map(self, t: Any) -> tuple[Any, Any, Any, Any]:
        """``(tau, c, tau_dot, c_dot / c)`` at ``t`` (0-d or (n,))."""
        xp, d, s = self.xp, self.dst, self.src
        a, b = d.alpha(t, xp), d.beta(t, xp)
        r2 = a * a + b * b
        th_dot = (a * d.beta_dot(t, xp) - d.alpha_dot(t, xp) * b) / r2
        tau = theta_inverse(s, xp.atan2(b, a), xp)
        sa, sb = s.alpha(tau, xp), s.beta(tau, xp)
        sr2 = sa * sa + sb * sb
        src_th_dot = (sa * s.beta_dot(tau, xp) - s.alpha_dot(tau, xp) * sb) / sr2
        tau_dot = th_dot / src_th_dot
        c = xp.sqrt(r2 / sr2)
        cdc = (d.alpha_alpha_dot(t, xp) + d.beta_beta_dot(t, xp)) / r2 - tau_dot * (
            s.alpha_alpha_dot(tau, xp) + s.beta_beta_dot(tau, xp)
        ) / sr2
        return tau, c, tau_dot, cdc

    def velocity(self, t: Any, x: Any) -> Any:
        tau, c, td, cdc = self.map(t)
        cc = _col(c)
        return _col(cdc) * x + (cc * _col(td)) * self.inner.velocity(tau, x / cc)

    def score(self, t: Any, x: Any) -> Any:
        tau, c, _, _ = self.map(t)
        cc = _col(c)
        return self.inner.score(tau, x / cc) / cc

    def denoiser(self, t: Any, x: Any, which: str) -> Any:
        tau, c, _, _ = self.map(t)
        return self.inner.denoiser(tau, x / _col(c), which)

    def divergence(self, t: Any, x: Any) -> Any:
        tau, c, td, cdc = self.map(t)
        return x.shape[-1] * cdc + td * self.inner.divergence(tau, x / _col(c))

    def jvp(self, t: Any, x: Any, v: Any) -> Any:
        tau, c, td, cdc = self.map(t)
        return _col(cdc) * v + _col(td) * self.inner.jvp(tau, x / _col(c), v)

    def log_density(self, t: Any, x: Any) -> Any:
        tau, c, _, _ = self.map(t)
        return self.inner.log_density(tau, x / _col(c)) - x.shape[-1] * self.xp.log(c)

    def _at(self, t0: float) -> tuple[float, Any]:
        tau, c, _, _ = self.map(self.be.asarray(float(t0)))
        return float(tau), c

    def base_samples(self, n: int, gen: Any) -> Any:
        return self.inner.base_samples(n, gen)

    def initial_samples(self, n: int, t0: float, gen: Any) -> Any:
        r""":math:`c(t_0)\, x_{\tau(t_0)}` with :math:`x_{\tau(t_0)}` drawn by the source field."""
        tau0, c0 = self._at(t0)
        return c0 * self.inner.initial_samples(n, tau0, gen)

    def base_log_prob(self, x: Any, t0: float) -> Any:
        tau0, c0 = self._at(t0)
        return self.inner.base_log_prob(x / c0, tau0) - x.shape[-1] * self.xp.log(c0)
