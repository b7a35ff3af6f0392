r"""Explicit Runge–Kutta methods as Butcher tableaus: the one RK stack of the library.

A step of an explicit s-stage method with tableau :math:`(c, A, b)` for :math:`\dot x = f(t, x)` is

.. math:: k_i = f\big(t + c_i h,\; x + h\textstyle\sum_{j<i} a_{ij} k_j\big),\qquad
          x' = x + h\textstyle\sum_i b_i k_i,

and an embedded pair adds the error estimate :math:`e = h\sum_i (b_i - \hat b_i) k_i` of the lower-order
solution (Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*, 2nd ed., 1993, §II.1–II.4).
Dormand–Prince 5(4) is from Dormand & Prince, J. Comput. Appl. Math. 6 (1980) 19–26; its last stage equals the
first stage of the next step (FSAL). :mod:`transportkit.integrate`, the Neural Galerkin time steppers and the
escorted-work integration of :mod:`transportkit.free_energy` all step with :func:`rk_step`/:func:`rk_step_error`.
``f`` may return any array (or a value supporting ``+`` and scalar ``*``); nothing here syncs with the host, so
steps run inside compiled loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._typing import Array

__all__ = ["TABLEAUS", "Tableau", "error_norm", "get_tableau", "next_step_factor", "rk_step", "rk_step_error"]


@dataclass(frozen=True)
class Tableau:
    """Butcher tableau of an explicit method: nodes ``c``, strictly lower ``a`` (row i has i entries), weights ``b``,
    and for embedded pairs ``e = b - b_hat``; ``order`` is the order of ``b``; ``fsal``: the last stage is
    :math:`f(t + h, x')`."""

    name: str
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    order: int
    e: tuple[float, ...] | None = None
    fsal: bool = False

    @property
    def stages(self) -> int:
        return len(self.b)


_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_BHAT = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)

#: the built-in tableaus by name
TABLEAUS: dict[str, Tableau] = {
    "euler": Tableau("euler", (0.0,), ((),), (1.0,), 1),
    "heun": Tableau("heun", (0.0, 1.0), ((), (1.0,)), (0.5, 0.5), 2),
    "midpoint": Tableau("midpoint", (0.0, 0.5), ((), (0.5,)), (0.0, 1.0), 2),
    "rk4": Tableau(
        "rk4", (0.0, 0.5, 0.5, 1.0), ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6), 4
    ),
    "bosh3": Tableau(
        "bosh3",
        (0.0, 0.5, 0.75, 1.0),
        ((), (0.5,), (0.0, 0.75), (2 / 9, 1 / 3, 4 / 9)),
        (2 / 9, 1 / 3, 4 / 9, 0.0),
        3,
        e=(2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
        fsal=True,
    ),
    "dopri5": Tableau(
        "dopri5",
        (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
        _DP_A,
        _DP_B,
        5,
        e=tuple(b - bh for b, bh in zip(_DP_B, _DP_BHAT, strict=True)),
        fsal=True,
    ),
}


def get_tableau(method: str | Tableau) -> Tableau:
    """A :class:`Tableau` by name (or the tableau itself); ``ValueError`` listing the names otherwise."""
    if isinstance(method, Tableau):
        return method
    tab = TABLEAUS.get(method) if isinstance(method, str) else None
    if tab is None:
        from ._validation import close_matches

        hint = close_matches(method, TABLEAUS) if isinstance(method, str) else ""
        raise ValueError(f"unknown Runge-Kutta method {method!r}; use one of {tuple(TABLEAUS)}{hint}")
    return tab


def _stages(tab: Tableau, f: Callable[[Any, Any], Any], t: Any, h: Any, x: Any, k1: Any = None) -> list[Any]:
    ks = [f(t, x) if k1 is None else k1]
    for i in range(1, tab.stages):
        xi = x
        for j, a in enumerate(tab.a[i]):
            if a != 0.0:
                xi = xi + (h * a) * ks[j]
        ks.append(f(t + tab.c[i] * h, xi))
    return ks


def _combine(x: Any, h: Any, weights: tuple[float, ...], ks: list[Any]) -> Any:
    out = x
    for w, k in zip(weights, ks, strict=True):
        if w != 0.0:
            out = out + (h * w) * k
    return out


def rk_step(tab: Tableau | str, f: Callable[[Any, Any], Any], t: Any, h: Any, x: Any) -> Array:
    """One step of size ``h`` (negative: backward in time) from ``(t, x)``; returns :math:`x(t + h)`."""
    tab = get_tableau(tab)
    return _combine(x, h, tab.b, _stages(tab, f, t, h, x))


def rk_step_error(
    tab: Tableau | str, f: Callable[[Any, Any], Any], t: Any, h: Any, x: Any, k1: Any = None
) -> tuple[Any, Any, Any]:
    """One step of an embedded pair: ``(x_new, err, k_next)`` with ``err`` the local error estimate (same shape as
    ``x``) and ``k_next`` the first stage of the next step where the method is FSAL (else ``None``). ``k1`` reuses
    a known :math:`f(t, x)`."""
    tab = get_tableau(tab)
    if tab.e is None:
        raise ValueError(f"method {tab.name!r} has no embedded error estimate; use 'dopri5' or 'bosh3'")
    ks = _stages(tab, f, t, h, x, k1)
    x_new = _combine(x, h, tab.b, ks)
    err = _combine(0.0 * x, h, tab.e, ks)
    return x_new, err, (ks[-1] if tab.fsal else None)


def error_norm(err: Any, x: Any, x_new: Any, rtol: float, atol: float, xp: Any, norm: str = "max") -> Array:
    r"""The scaled error :math:`\|e_i / (\mathrm{atol} + \mathrm{rtol}\max(|x_i|, |x'_i|))\|` as a 0-d array, with
    the max norm (``"max"``) or the root mean square (``"rms"``, Hairer et al. eq. II.4.11); a step is accepted
    when it is at most 1."""
    ratio = xp.abs(err) / (atol + rtol * xp.maximum(xp.abs(x), xp.abs(x_new)))
    if norm == "max":
        return xp.max(ratio)
    if norm == "rms":
        return xp.sqrt(xp.mean(ratio * ratio))
    raise ValueError(f"norm must be 'max' or 'rms', got {norm!r}")


def next_step_factor(err: Any, order: int, xp: Any, safety: float = 0.9, fmin: float = 0.2, fmax: float = 5.0) -> Array:
    r"""Step-size factor :math:`\mathrm{clip}(s\,\mathrm{err}^{-1/(q+1)}, f_{\min}, f_{\max})` with q the order of
    the error estimate (``order - 1`` for the lower-order solution); ``err = 0`` gives ``fmax``, NaN ``fmin``."""
    safe = xp.where(err > 0, err, xp.ones_like(err))
    fac = xp.where(err > 0, safety * safe ** (-1.0 / order), xp.full_like(err, fmax))
    fac = xp.where(xp.isnan(err), xp.full_like(err, fmin), fac)
    return xp.clip(fac, fmin, fmax)
