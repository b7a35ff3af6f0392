r"""The a-posteriori error of a Neural Galerkin run propagated by the error equation on a periodic sample grid.

The error :math:`e = u_\theta - u^*` of the ansatz against the true solution obeys the error equation

.. math:: \dot e = r + f(t, u_\theta) - f(t, u_\theta - e),\qquad r = \partial_tu_\theta - f(t, u_\theta),

with :math:`r` the residual of the scheme (Bruna, Peherstorfer & Vanden-Eijnden, "Neural Galerkin schemes with
active learning for high-dimensional evolution equations", J. Comput. Phys. 2024, arXiv:2203.01360; Zhang, Chen,
Vanden-Eijnden & Peherstorfer, "Sequential-in-time training of nonlinear parametrizations for solving
time-dependent partial differential equations", arXiv:2404.01145, who bound :math:`\|e(t)\|` by
:math:`\int_0^te^{L(t-s)}\|r(s)\|ds`). Its solution is :math:`e(t) = \int_0^tS(t,s)r(s)\,ds` plus the propagated
:math:`e_0`, with :math:`S` the solution operator of the (linearized) flow; replacing :math:`S` by the identity, as
the point-by-point accumulated estimate does, over-estimates the KdV error 2–4 times.

Over one step :math:`[t_k, t_{k+1}]` the error equation integrates exactly to

.. math:: e_{k+1} = u_\theta(t_{k+1}) - \Phi_{t_k\to t_{k+1}}\big(u_\theta(t_k) - e_k\big),

:math:`\Phi` the flow of :math:`\partial_tu = f` (because :math:`u_\theta - e = u^*` solves the PDE; the residual
enters through :math:`u_\theta(t_{k+1})`). Where :math:`f` can be evaluated on grid values — a periodic PDE sampled
on its full periodic tensor grid, derivatives by FFT — and declares the Fourier symbol :math:`\hat L(t, k)` of
its stiff linear constant-coefficient part (``PDE.linear_symbol``; :math:`f = Lu + N(t, u)`), :class:`GridErrorEquation`
replaces :math:`\Phi` by one step of the integrating-factor ("Lawson") fourth-order Runge–Kutta method on the grid
(Lawson, SIAM J. Numer. Anal. 1967; Trefethen, "Spectral Methods in MATLAB", 2000, ch. 10): the linear part is
integrated exactly (:math:`\exp\int\hat L`, the time integral by Simpson's rule on each half step: exact for a
symbol constant or cubic in time), the nonlinear part :math:`N = f - L` explicitly, evaluated pseudo-spectrally
with ``PDE.rhs`` on fields (:math:`u`, :math:`\nabla u`, :math:`\Delta u`, :math:`\partial_x^3u`) computed by FFT.

It is an **estimate**, not a bound: it carries the Lawson scheme's time-discretization error (fourth order in the
step; none for a linear problem with a symbol constant or cubic in time, where it is exact up to rounding), the
grid's spatial resolution (spectral for smooth periodic solutions; the Nyquist mode is dropped) and measures the
error on the grid points only (their RMS; the trapezoidal rule of the periodic :math:`L^2` norm). Equivalently,
:math:`u_\theta - e` is a pseudo-spectral solution of the PDE on the sample grid started from :math:`u_0`, carried
along the run as the error :math:`e` — the error equation is the PDE itself written for the difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["GridErrorEquation", "grid_error_equation"]


def _wavenumbers(n: int, length: float, half: bool) -> list[float]:
    """Angular wavenumbers of an ``n``-point FFT over one period ``length`` (``half``: the rfft layout); the Nyquist
    wavenumber of an even ``n`` is kept here and masked out of the spectra."""
    idx = list(range(n // 2 + 1)) if half else [j if j < (n + 1) // 2 else j - n for j in range(n)]
    return [2.0 * math.pi * j / length for j in idx]


class GridErrorEquation:
    r"""The error equation of a Neural Galerkin run on a periodic tensor grid (module docstring).

    Parameters
    ----------
    pde
        a periodic :class:`~transportkit.galerkin.PDE` with ``linear_symbol``.
    shape
        points per dimension of the grid (``GridSampler(low, high, n_per_dim)`` with ``low``/``high`` the PDE box).
    lengths
        the periods (``high - low``).
    be
        the backend (its ``xp`` must have the array API's ``fft`` extension).
    """

    def __init__(self, pde: Any, shape: tuple[int, ...], lengths: tuple[float, ...], be: Any) -> None:
        xp = be.xp
        self.pde, self.shape, self.xp, self.d = pde, tuple(int(s) for s in shape), xp, len(shape)
        self.axes = tuple(range(self.d))
        dt = be.dtype
        ks, masks = [], []
        for i, (n, L) in enumerate(zip(self.shape, lengths, strict=True)):
            kv = _wavenumbers(n, float(L), half=i == self.d - 1)  # rfftn: the last axis is halved
            nyq = [0.0 if n % 2 == 0 and abs(round(k * L / (2.0 * math.pi))) == n // 2 else 1.0 for k in kv]
            bshape = [1] * self.d
            bshape[i] = len(kv)
            ks.append(xp.reshape(xp.asarray(kv, dtype=dt, device=be.device), tuple(bshape)))
            masks.append(xp.reshape(xp.asarray(nyq, dtype=dt, device=be.device), tuple(bshape)))
        self.k = tuple(ks)
        mask = masks[0]
        for m in masks[1:]:
            mask = mask * m
        self.mask = mask

    # ------------------------------------------------------------------------------------- spectral helpers
    def hat(self, v: Any) -> Any:
        """The (Nyquist-free) real FFT of grid values ``v`` ``(n,)``."""
        xp = self.xp
        return xp.fft.rfftn(xp.reshape(v, self.shape), axes=self.axes) * self.mask

    def values(self, vh: Any) -> Any:
        """Grid values ``(n,)`` from a spectrum."""
        xp = self.xp
        return xp.reshape(xp.fft.irfftn(vh, s=self.shape, axes=self.axes), (-1,))

    def fields(self, vh: Any) -> dict[str, Any]:
        """The fields ``PDE.rhs`` needs (``u``, ``grad``, ``lap``, ``dxxx``) of the grid function with spectrum ``vh``,
        by spectral differentiation (one batched inverse FFT)."""
        xp = self.xp
        needs = self.pde.needs
        names, spectra = ["u"], [vh]
        if "grad" in needs:
            names += [f"grad{i}" for i in range(self.d)]
            spectra += [(1j * k) * vh for k in self.k]
        if "lap" in needs:
            names.append("lap")
            spectra.append(-sum(k * k for k in self.k) * vh)
        if "dxxx" in needs:
            names.append("dxxx")
            spectra.append((-1j * self.k[0] ** 3) * vh)
        vals = xp.fft.irfftn(xp.stack(spectra), s=self.shape, axes=tuple(a + 1 for a in self.axes))
        vals = xp.reshape(vals, (len(names), -1))
        out = {name: vals[i, :] for i, name in enumerate(names) if not name.startswith("grad")}
        if "grad" in needs:
            out["grad"] = xp.stack([vals[names.index(f"grad{i}"), :] for i in range(self.d)], axis=1)
        return out

    def symbol(self, t: Any) -> Any:
        """:math:`\\hat L(t, k)` on the spectral grid."""
        return self.pde.linear_symbol(t, self.k, self.xp)

    # ------------------------------------------------------------------------------------- the error step
    def step(self, t: Any, h: Any, X: Any, u_old: Any, u_new: Any, e: Any) -> Any:
        r""":math:`e_{k+1} = u_\theta(t_{k+1}) - \Phi_h(u_\theta(t_k) - e_k)` with :math:`\Phi_h` one Lawson–RK4 step
        of :math:`\partial_tu = Lu + N(t, u)` on the grid ``X`` (``u_old``, ``u_new``, ``e``: grid values ``(n,)``)."""
        xp = self.xp
        rhs = self.pde.rhs
        L0, Lq, Lm, L3q, L1 = (self.symbol(t + c * h) for c in (0.0, 0.25, 0.5, 0.75, 1.0))
        E1 = xp.exp((h / 12.0) * (L0 + 4.0 * Lq + Lm))  # exp of the integral of L over each half step (Simpson)
        E2 = xp.exp((h / 12.0) * (Lm + 4.0 * L3q + L1))
        E = E1 * E2

        def nonlinear(tt: Any, vh: Any, Lt: Any) -> Any:
            return self.hat(rhs(tt, X, self.fields(vh), xp)) - Lt * vh

        vh = self.hat(u_old - e)
        a = h * nonlinear(t, vh, L0)
        # (a second-order Lawson–Heun step is too coarse here: 4.5x the true KdV error at t = 1 with dt = 1e-3)
        b = h * nonlinear(t + 0.5 * h, E1 * (vh + 0.5 * a), Lm)
        c = h * nonlinear(t + 0.5 * h, E1 * vh + 0.5 * b, Lm)
        dd = h * nonlinear(t + h, E * vh + E2 * c, L1)
        new = E * vh + (E * a + 2.0 * E2 * (b + c) + dd) / 6.0
        return u_new - self.values(new)


def grid_error_equation(pde: Any, sampler: Any, be: Any) -> GridErrorEquation | None:
    """The :class:`GridErrorEquation` of a run, or ``None`` where it does not apply: the PDE must be periodic and
    declare ``linear_symbol``, the sampler a periodic :class:`~transportkit.galerkin.GridSampler` on exactly the PDE's
    box (one period per dimension), and the backend's namespace must have the ``fft`` extension."""
    from .particles import GridSampler

    symbol: Callable | None = getattr(pde, "linear_symbol", None)
    if symbol is None or not pde.periodic or not isinstance(sampler, GridSampler) or not sampler.periodic:
        return None
    if len(sampler.low) != pde.d or getattr(be.xp, "fft", None) is None:
        return None
    lengths = tuple(h - lo for lo, h in zip(pde.low, pde.high, strict=True))
    for lo, hi, plo, phi, L in zip(sampler.low, sampler.high, pde.low, pde.high, lengths, strict=True):
        if abs(lo - plo) > 1e-12 * L or abs(hi - phi) > 1e-12 * L:
            return None
    return GridErrorEquation(pde, (sampler.k,) * pde.d, lengths, be)
