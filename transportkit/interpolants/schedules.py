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

__all__ = ["GAMMAS", "SCHEDULES", "Schedule", "gamma_schedule", "make_schedule"]

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
    if not (isinstance(a, (int, float)) and a > 0 and math.isfinite(a)):
        raise ValueError(f"gamma amplitude a must be a positive finite number, got a={a!r}")
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
    return dict(
        alpha=lambda t, xp: 1.0 - t,
        beta=lambda t, xp: t,
        alpha_dot=lambda t, xp: -xp.ones_like(t),
        beta_dot=_one,
        alpha_alpha_dot=lambda t, xp: t - 1.0,
        beta_beta_dot=lambda t, xp: t,
    )


def _trig(g, gd, ggd, gz) -> dict[str, Fn]:
    h = math.pi / 2
    if gz:
        return dict(
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


def _vp(c: float = 0.008) -> dict[str, Fn]:
    r"""Cosine (improved-DDPM) schedule in SI time: beta = cos(pi/2 (1-t+c)/(1+c)) / cos(pi/2 c/(1+c)),
    alpha = sqrt(1 - beta^2); alpha alpha' = -beta beta' (finite at t = 1 where alpha' is not)."""
    k = math.pi / (2.0 * (1.0 + c))
    den = math.cos(k * c)

    def b(t, xp):
        return xp.cos(k * (1.0 - t + c)) / den

    def bd(t, xp):
        return k * xp.sin(k * (1.0 - t + c)) / den

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
    )


def _ve(sigma_min: float = 0.01, sigma_max: float = 50.0) -> dict[str, Fn]:
    r"""VE: alpha = sigma_min (sigma_max/sigma_min)^(1-t), beta = 1 (approximate boundary conditions)."""
    if not (0 < sigma_min < sigma_max):
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
    )


#: built-in schedule names; "gvp" is an alias of "trig", "cosine" of "vp"
SCHEDULES = ("linear", "trig", "gvp", "vp", "cosine", "ve")


def make_schedule(name: str, gamma: Any = 0, a: float = 1.0, **options: Any) -> Schedule:
    """A built-in :class:`Schedule` by name (see :data:`SCHEDULES`) with a gamma choice (see
    :func:`gamma_schedule`). Options: ``c`` for ``"vp"``; ``sigma_min``, ``sigma_max`` for ``"ve"``."""
    g, gd, ggd, gz, glabel = gamma_schedule(gamma, a)
    key = {"gvp": "trig", "cosine": "vp"}.get(name, name)
    approximate = False
    if key == "linear":
        parts = _linear(g, gd, ggd, gz)
    elif key == "trig":
        parts = _trig(g, gd, ggd, gz)
    elif key in ("vp", "ve"):
        if not gz:
            raise ValueError(f"schedule {name!r} is one-sided: it takes gamma = 0, got gamma={gamma!r}")
        parts = _vp(**options) if key == "vp" else _ve(**options)
        approximate = key == "ve"
    else:
        raise ValueError(f"unknown schedule {name!r}; built-ins: {', '.join(SCHEDULES)}")
    if key in ("linear", "trig") and options:
        raise ValueError(f"schedule {name!r} takes no options, got {sorted(options)}")
    label = name if gz else f"{name}, gamma={glabel}"
    return Schedule(
        label, gamma=g, gamma_dot=gd, gamma_gamma_dot=ggd, gamma_is_zero=gz, approximate=approximate, **parts
    )
