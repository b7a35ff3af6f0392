r"""The picture of transition path theory on a 2-D grid: committor (or reactive density) as an image, the potential's
contours, the sets A and B, the effective reactive flux as arrows and the dominant pathways.

The flux field at state :math:`i` is :math:`F_i = \sum_j f^+_{ij}(x_j - x_i)` with :math:`f^+` the net reactive
flux (Metzner, Schütte & Vanden-Eijnden, Multiscale Model. Simul. 7, 1192, 2009); a pathway's share is the
fraction of the total flux :math:`F_{AB}` that its bottleneck carries (Cameron & Vanden-Eijnden, J. Stat. Phys.
156, 427, 2014).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._validation import as_choice, as_count, check_callable
from ._common import axes, host, host_xp

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_tpt"]


def _grid(P: Any) -> int:
    """The side ``n`` of the ``n x n`` tensor grid of the points ``P`` (m, 2)."""
    m = P.shape[0]
    n = math.isqrt(m)
    if P.ndim != 2 or P.shape[1] != 2 or n * n != m:
        raise ValueError(f"xy must hold the n*n points of a square 2-D grid, got shape {tuple(P.shape)}")
    return n


def plot_tpt(
    rf: Any,
    xy: Any,
    *,
    ax: Any = None,
    show: str = "committor",
    potential: Callable[[Any, Any], Any] | None = None,
    levels: int = 15,
    paths: Any = 3,
    flux: bool = True,
    arrows: int = 25,
    colorbar: bool = True,
) -> Axes:
    r"""Committor :math:`q^+` (``show="committor"``) or reactive density :math:`\pi_i q^-_i q^+_i`
    (``show="density"``) on the ``n x n`` grid ``xy`` of the states of ``rf`` (a
    :class:`~transportkit.tpt.ReactiveFlux`), with

    - ``potential(x, y)`` drawn as ``levels`` contour lines (e.g. :func:`transportkit.tpt.mueller_brown_potential`);
    - the states of A and B outlined and labelled;
    - the effective reactive flux :math:`F_i` as arrows on about ``arrows x arrows`` grid points (``flux=True``);
    - the ``paths`` dominant pathways (an int ``k`` for :meth:`ReactiveFlux.pathways`, or its list of
      ``(states, share)``), labelled with their share of the total flux.
    """
    ax = axes(ax)
    show = as_choice("show", show, ("committor", "density"))
    levels, arrows = as_count("levels", levels), as_count("arrows", arrows)
    xp = host_xp()
    P = host(xy, "xy")
    n = _grid(P)
    if P.shape[0] != rf.n:
        raise ValueError(f"xy has {P.shape[0]} points but the network has {rf.n} states")
    X, Y = xp.reshape(P[:, 0], (n, n)), xp.reshape(P[:, 1], (n, n))
    if show == "committor":
        val, cmap, clabel = host(rf.q_plus), "coolwarm", "forward committor $q^+$"
    else:
        val, cmap, clabel = host(rf.reactive_density), "viridis", r"reactive density $\pi q^- q^+$"
    im = ax.pcolormesh(X, Y, xp.reshape(val, (n, n)), shading="auto", cmap=cmap)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=clabel)
    if potential is not None:
        V = xp.reshape(host(check_callable("potential", potential)(P[:, 0], P[:, 1]), "potential(x, y)"), (n, n))
        lo = float(xp.min(V))
        hi = lo + 0.75 * (float(xp.quantile(xp.reshape(V, (-1,)), 0.5)) - lo)
        ax.contour(X, Y, V, levels=xp.linspace(lo, hi, levels), colors="k", linewidths=0.6, alpha=0.6,
                   linestyles="solid")
        ax.plot([], [], "k-", lw=0.6, alpha=0.6, label="potential")
    if flux:
        src, dst = (host(e) for e in rf.edges)
        f = host(rf.net_flux_values)
        si, di = xp.astype(src, xp.int64), xp.astype(dst, xp.int64)
        F = xp.zeros((rf.n, 2))
        for c in (0, 1):
            F[:, c] = xp.bincount(si, weights=f * (P[di, c] - P[si, c]), minlength=rf.n)
        stride = max(1, n // arrows)
        idx = xp.reshape(xp.reshape(xp.arange(n * n), (n, n))[::stride, ::stride], (-1,))
        mag = xp.sqrt(xp.sum(F * F, axis=1))
        idx = idx[mag[idx] > 0.02 * float(xp.max(mag))] if float(xp.max(mag)) > 0 else idx[:0]
        if idx.shape[0]:
            ax.quiver(P[idx, 0], P[idx, 1], F[idx, 0], F[idx, 1], color="0.15", width=0.003, label="reactive flux")
    for name, states, color in (("A", rf.A, "white"), ("B", rf.B, "black")):
        S = xp.astype(host(states), xp.int64)
        ax.scatter(P[S, 0], P[S, 1], s=12, marker="s", facecolors="none", edgecolors=color, linewidths=0.8)
        cx, cy = float(xp.mean(P[S, 0])), float(xp.mean(P[S, 1]))
        ax.annotate(name, (cx, cy), xytext=(6, 6), textcoords="offset points", color=color, fontsize=14,
                    fontweight="bold")
    if paths:
        plist = rf.pathways(k=as_count("paths", paths)) if isinstance(paths, int) else list(paths)
        for i, (states, share) in enumerate(plist, 1):
            st = xp.astype(host(states), xp.int64)
            ax.plot(P[st, 0], P[st, 1], lw=2, label=f"pathway {i}: {100 * float(share):.1f}% of the flux")
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(f"TPT on {n}x{n} grid: rate $k_{{AB}}$ = {float(rf.rate):.3e}")
    ax.legend(loc="lower left", fontsize="small")
    return ax
