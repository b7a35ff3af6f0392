r"""Schedules :math:`\alpha(t), \beta(t), \gamma(t)` of a stochastic interpolant, with exact derivatives.

The interpolant is :math:`x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z` on :math:`t \in [0, 1]` with the
boundary conditions :math:`\alpha(0) = \beta(1) = 1`, :math:`\alpha(1) = \beta(0) = 0`,
:math:`\gamma(0) = \gamma(1) = 0` and :math:`\gamma \ge 0` (Albergo, Boffi &
Vanden-Eijnden 2023, arXiv:2303.08797, §2 and §3).

Every built-in schedule supplies its derivatives analytically, and the products
:math:`\alpha\alpha'`, :math:`\beta\beta'`, :math:`\gamma\gamma'` in closed form: they stay finite where a factor
is singular (:math:`\gamma' \sim 1/\sqrt{t}` for :math:`\gamma = \sqrt{a t (1-t)}`, :math:`\alpha' \to -\infty`
at :math:`t = 1` for the VP/cosine schedule), and the exact fields only ever use the products.

A schedule function takes ``(t, xp)``: ``t`` an array (0-d or 1-d) of the backend ``xp``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GAMMAS", "SCHEDULES", "Schedule", "gamma_schedule", "make_schedule", "schedule_doc"]

Fn = Callable[[Any, Any], Any]


def _zero(t: Any, xp: Any) -> Any:
    return xp.zeros_like(t)


def _one(t: Any, xp: Any) -> Any:
    return xp.ones_like(t)


@dataclass(frozen=True)
class Schedule:
    r"""Coefficient functions of :math:`x_t = \alpha x_0 + \beta x_1 + \gamma z` and their time derivatives.

    Each attribute is a function ``f(t, xp)``. ``alpha_alpha_dot`` etc. are the products
    :math:`\alpha\alpha'`, :math:`\beta\beta'`, :math:`\gamma\gamma'` (finite where a derivative alone is not).
    ``approximate`` marks schedules whose boundary conditions hold only approximately (VE, VP-SDE);
    ``gamma_is_zero`` marks pure flows (one-sided when the base is Gaussian).
    """

    name: str
    alpha: Fn
    beta: Fn
    gamma: Fn
    alpha_dot: Fn
    beta_dot: Fn
    gamma_dot: Fn
    alpha_alpha_dot: Fn
    beta_beta_dot: Fn
    gamma_gamma_dot: Fn
    gamma_is_zero: bool = False
    approximate: bool = False
    #: optional closed-form inverse of the one-sided angle :math:`\theta(t) = \operatorname{atan2}(\beta, \alpha)`:
    #: ``theta_inverse(theta, xp) -> t`` (used by :func:`transportkit.interpolants.transfer`; bisection otherwise)
    theta_inverse: Fn | None = None


# ------------------------------------------------------------------------------------------- gamma choices
def gamma_schedule(kind: Any = 0, a: float = 1.0) -> tuple[Fn, Fn, Fn, bool, str]:
    r"""``(gamma, gamma_dot, gamma_gamma_dot, is_zero, label)`` for a named choice of :math:`\gamma`.

    - ``0`` / ``None`` / ``"zero"``: :math:`\gamma = 0` (a flow);
    - ``"sqrt"``: :math:`\gamma = \sqrt{a t(1-t)}`, :math:`\gamma\gamma' = a(1-2t)/2`;
    - ``"quadratic"``: :math:`\gamma = a t(1-t)`, :math:`\gamma' = a(1-2t)`;
    - ``"sin2"``: :math:`\gamma = a \sin^2(\pi t)`, :math:`\gamma' = a\pi\sin(2\pi t)`.
    """
    if kind is None or (isinstance(kind, (int, float)) and kind == 0) or kind == "zero":
        return _zero, _zero, _zero, True, "0"
    from .._validation import as_real

    try:
        a = as_real("a", a, low=0.0, low_open=True)
    except (TypeError, ValueError) as err:
        raise type(err)(f"gamma amplitude {err}") from None
    if kind == "sqrt":

        def g(t, xp):
            return xp.sqrt(a * xp.clip(t * (1.0 - t), 0.0, None))

        def gd(t, xp):
            gt = g(t, xp)
            pos = gt > 0
            num = a * (1.0 - 2.0 * t) / 2.0
            inf = xp.where(num >= 0, xp.full_like(t, math.inf), xp.full_like(t, -math.inf))
            return xp.where(pos, num / xp.where(pos, gt, xp.ones_like(gt)), inf)

        return g, gd, lambda t, xp: a * (1.0 - 2.0 * t) / 2.0, False, f"sqrt({a:g} t(1-t))"
    if kind == "quadratic":

        def g(t, xp):
            return a * t * (1.0 - t)

        def gd(t, xp):
            return a * (1.0 - 2.0 * t)

        return g, gd, lambda t, xp: g(t, xp) * gd(t, xp), False, f"{a:g} t(1-t)"
    if kind == "sin2":

        def g(t, xp):
            return a * xp.sin(math.pi * t) ** 2

        def gd(t, xp):
            return a * math.pi * xp.sin(2.0 * math.pi * t)

        return g, gd, lambda t, xp: g(t, xp) * gd(t, xp), False, f"{a:g} sin^2(pi t)"
    raise ValueError(f"unknown gamma choice {kind!r}; use 0, 'sqrt', 'quadratic', 'sin2' or a callable")


#: the named gamma choices
GAMMAS = ("zero", "sqrt", "quadratic", "sin2")


# ------------------------------------------------------------------------------------------- named schedules
def _linear(g, gd, ggd, gz) -> dict[str, Fn]:
    r"""Linear (rectified flow / flow matching): :math:`\alpha = 1-t`, :math:`\beta = t` (Liu, Gong & Liu 2022,
    arXiv:2209.03003; Lipman et al. 2022, arXiv:2210.02747; Albergo & Vanden-Eijnden 2022, arXiv:2209.15571)."""
    return dict(
        theta_inverse=lambda th, xp: xp.sin(th) / (xp.sin(th) + xp.cos(th)),
        alpha=lambda t, xp: 1.0 - t,
        beta=lambda t, xp: t,
        alpha_dot=lambda t, xp: -xp.ones_like(t),
        beta_dot=_one,
        alpha_alpha_dot=lambda t, xp: t - 1.0,
        beta_beta_dot=lambda t, xp: t,
    )


def _trig(g, gd, ggd, gz) -> dict[str, Fn]:
    r"""Trigonometric / GVP: :math:`\alpha = \cos\frac{\pi t}2`, :math:`\beta = \sin\frac{\pi t}2`
    (Albergo & Vanden-Eijnden 2022, arXiv:2209.15571; the "GVP" path of SiT, Ma et al. 2024, arXiv:2401.08740);
    two-sided with :math:`\sqrt{1-\gamma^2}` factors (Albergo, Boffi & Vanden-Eijnden 2023, arXiv:2303.08797)."""
    h = math.pi / 2
    if gz:
        return dict(
            theta_inverse=lambda th, xp: th / h,
            alpha=lambda t, xp: xp.cos(h * t),
            beta=lambda t, xp: xp.sin(h * t),
            alpha_dot=lambda t, xp: -h * xp.sin(h * t),
            beta_dot=lambda t, xp: h * xp.cos(h * t),
            alpha_alpha_dot=lambda t, xp: -h * xp.cos(h * t) * xp.sin(h * t),
            beta_beta_dot=lambda t, xp: h * xp.cos(h * t) * xp.sin(h * t),
        )

    # two-sided: alpha = sqrt(1-g^2) cos, beta = sqrt(1-g^2) sin;  alpha' = -g g' cos/sqrt(1-g^2) - h sqrt(1-g^2) sin
    def r(t, xp):
        return xp.sqrt(1.0 - g(t, xp) ** 2)

    def ad(t, xp):
        return -ggd(t, xp) * xp.cos(h * t) / r(t, xp) - h * r(t, xp) * xp.sin(h * t)

    def bd(t, xp):
        return -ggd(t, xp) * xp.sin(h * t) / r(t, xp) + h * r(t, xp) * xp.cos(h * t)

    return dict(
        alpha=lambda t, xp: r(t, xp) * xp.cos(h * t),
        beta=lambda t, xp: r(t, xp) * xp.sin(h * t),
        alpha_dot=ad,
        beta_dot=bd,
        alpha_alpha_dot=lambda t, xp: r(t, xp) * xp.cos(h * t) * ad(t, xp),
        beta_beta_dot=lambda t, xp: r(t, xp) * xp.sin(h * t) * bd(t, xp),
    )


def _cosine(c: float = 0.008) -> dict[str, Fn]:
    r"""Cosine (improved-DDPM) schedule in SI time (Nichol & Dhariwal 2021, arXiv:2102.09672):
    :math:`\beta = \cos(\frac\pi2 \frac{1-t+c}{1+c}) / \cos(\frac\pi2 \frac{c}{1+c})`,
    :math:`\alpha = \sqrt{1 - \beta^2}`; :math:`\alpha\alpha' = -\beta\beta'` (finite at t = 1 where
    :math:`\alpha'` is not). Exact boundary conditions."""
    if not (isinstance(c, (int, float)) and 0 <= c < 1):
        raise ValueError(f"cosine schedule option c must be a number in [0, 1), got c={c!r}")
    k = math.pi / (2.0 * (1.0 + c))
    den = math.cos(k * c)

    def b(t, xp):
        return xp.cos(k * (1.0 - t + c)) / den

    def bd(t, xp):
        return k * xp.sin(k * (1.0 - t + c)) / den

    def inv(th, xp):  # beta = sin(theta)
        u = xp.acos(xp.clip(den * xp.sin(th), -1.0, 1.0)) / k  # = 1 - t + c
        return xp.clip(1.0 + c - u, 0.0, 1.0)

    return _vp_family(b, bd, inv)


def _vp_family(b: Fn, bd: Fn, inv: Fn | None) -> dict[str, Fn]:
    r""":math:`\alpha = \sqrt{1 - \beta^2}` with :math:`\alpha\alpha' = -\beta\beta'` and :math:`\alpha' =
    -\beta\beta'/\alpha` (:math:`-\infty` where :math:`\alpha = 0`)."""

    def a(t, xp):
        return xp.sqrt(xp.clip(1.0 - b(t, xp) ** 2, 0.0, None))

    def ad(t, xp):
        at = a(t, xp)
        pos = at > 0
        return xp.where(pos, -b(t, xp) * bd(t, xp) / xp.where(pos, at, xp.ones_like(at)), -math.inf)

    return dict(
        alpha=a,
        beta=b,
        alpha_dot=ad,
        beta_dot=bd,
        alpha_alpha_dot=lambda t, xp: -b(t, xp) * bd(t, xp),
        beta_beta_dot=lambda t, xp: b(t, xp) * bd(t, xp),
        theta_inverse=inv,
    )


def _vp() -> dict[str, Fn]:
    r"""Variance preserving, algebraic form: :math:`\alpha = \sqrt{1-t^2}`, :math:`\beta = t` (the "VP" path
    of Aranguri, Biroli, Mézard & Vanden-Eijnden 2025, arXiv:2501.00988, with constant speed
    :math:`\tau = t`); :math:`\alpha' = -t/\sqrt{1-t^2}` is singular at t = 1, :math:`\alpha\alpha' = -t` is not."""
    return _vp_family(lambda t, xp: t, _one, lambda th, xp: xp.sin(th))


def _ddpm(beta_min: float = 0.1, beta_max: float = 20.0) -> dict[str, Fn]:
    r"""DDPM / VP-SDE with linear :math:`\beta`-schedule in SI time (Ho, Jain & Abbeel 2020, arXiv:2006.11239;
    Song et al. 2021, arXiv:2011.13456; the "VP" path of SiT, Ma et al. 2024, arXiv:2401.08740):
    :math:`\beta(t) = \exp(-\tfrac14 (1-t)^2 (B_1 - B_0) - \tfrac12 (1-t) B_0)`, :math:`\alpha = \sqrt{1-\beta^2}`,
    :math:`B_0 = 0.1`, :math:`B_1 = 20`. :math:`\beta(0) \approx 6.6\cdot10^{-3} \ne 0`: the boundary condition
    at t = 0 is approximate and sampling draws the exact t = 0 law :math:`\alpha(0) z + \beta(0) x_1`."""
    if not (isinstance(beta_min, (int, float)) and isinstance(beta_max, (int, float)) and 0 < beta_min < beta_max
            and math.isfinite(beta_max)):
        raise ValueError(f"ddpm schedule needs 0 < beta_min < beta_max (finite), got {beta_min!r}, {beta_max!r}")
    b0, db = float(beta_min), float(beta_max) - float(beta_min)

    def b(t, xp):
        u = 1.0 - t
        return xp.exp(-0.25 * u * u * db - 0.5 * u * b0)

    def bd(t, xp):
        u = 1.0 - t
        return (0.5 * u * db + 0.5 * b0) * b(t, xp)

    def inv(th, xp):  # 1/4 db u^2 + 1/2 b0 u + log(sin theta) = 0
        lb = xp.log(xp.clip(xp.sin(th), 1e-300, 1.0))
        u = (-0.5 * b0 + xp.sqrt(0.25 * b0 * b0 - db * lb)) / (0.5 * db)
        return xp.clip(1.0 - u, 0.0, 1.0)

    return _vp_family(b, bd, inv)


def _ve(sigma_min: float = 0.01, sigma_max: float = 50.0) -> dict[str, Fn]:
    r"""Variance exploding (Song & Ermon 2019, arXiv:1907.05600; Song et al. 2021, arXiv:2011.13456) in SI time:
    :math:`\alpha = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^{1-t}`, :math:`\beta = 1`. Approximate boundary
    conditions: the t = 0 law is :math:`\sigma_{\max} z + x_1` (which sampling draws for exact fields; fields that do
    not know the target draw :math:`\sigma_{\max} z`), and the t = 1 law is :math:`x_1 + \sigma_{\min} z`."""
    if not (isinstance(sigma_min, (int, float)) and isinstance(sigma_max, (int, float)) and 0 < sigma_min < sigma_max
            and math.isfinite(sigma_max)):
        raise ValueError(f"VE schedule needs 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    lr = math.log(sigma_max / sigma_min)

    def a(t, xp):
        return sigma_min * xp.exp(lr * (1.0 - t))

    return dict(
        alpha=a,
        beta=_one,
        alpha_dot=lambda t, xp: -lr * a(t, xp),
        beta_dot=_zero,
        alpha_alpha_dot=lambda t, xp: -lr * a(t, xp) ** 2,
        beta_beta_dot=_zero,
        theta_inverse=lambda th, xp: xp.clip(1.0 - xp.log(xp.cos(th) / (xp.sin(th) * sigma_min)) / lr, 0.0, 1.0),
    )


#: built-in schedule names; "gvp" is an alias of "trig"
SCHEDULES = ("linear", "trig", "gvp", "vp", "cosine", "ddpm", "ve")
_ONE_SIDED = {"vp": _vp, "cosine": _cosine, "ddpm": _ddpm, "ve": _ve}
_APPROXIMATE = ("ddpm", "ve")


def schedule_doc(name: str) -> str:
    """The docstring (formula and paper) of a built-in schedule."""
    key = {"gvp": "trig"}.get(name, name)
    f = {"linear": _linear, "trig": _trig, **_ONE_SIDED}.get(key)
    if f is None:
        raise ValueError(f"unknown schedule {name!r}; built-ins: {', '.join(SCHEDULES)}")
    return f.__doc__ or ""


def make_schedule(name: str, gamma: Any = 0, a: float = 1.0, **options: Any) -> Schedule:
    """A built-in :class:`Schedule` by name (see :data:`SCHEDULES`) with a gamma choice (see
    :func:`gamma_schedule`). Options: ``c`` for ``"cosine"``; ``beta_min``, ``beta_max`` for ``"ddpm"``;
    ``sigma_min``, ``sigma_max`` for ``"ve"``."""
    if not isinstance(name, str) or name not in SCHEDULES:
        from .._validation import close_matches

        hint = close_matches(name, SCHEDULES) if isinstance(name, str) else ""
        raise ValueError(f"unknown schedule {name!r}; built-ins: {', '.join(SCHEDULES)}{hint}")
    g, gd, ggd, gz, glabel = gamma_schedule(gamma, a)
    key = {"gvp": "trig"}.get(name, name)
    approximate = False
    if key == "linear":
        parts = _linear(g, gd, ggd, gz)
    elif key == "trig":
        parts = _trig(g, gd, ggd, gz)
    else:
        if not gz:
            raise ValueError(f"schedule {name!r} is one-sided: it takes gamma = 0, got gamma={gamma!r}")
        try:
            parts = _ONE_SIDED[key](**options)
        except TypeError:
            import inspect

            known = sorted(inspect.signature(_ONE_SIDED[key]).parameters)
            raise TypeError(f"schedule {name!r} takes options {known}, got {sorted(options)}") from None
        approximate = key in _APPROXIMATE
    if key in ("linear", "trig") and options:
        raise ValueError(f"schedule {name!r} takes no options, got {sorted(options)}")
    label = name if gz else f"{name}, gamma={glabel}"
    return Schedule(
        label, gamma=g, gamma_dot=gd, gamma_gamma_dot=ggd, gamma_is_zero=gz, approximate=approximate, **parts
    )
