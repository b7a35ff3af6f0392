r"""The entropy :math:`S_t = -\mathbb{E}\log\rho_t(X_t)` along a probability flow (score-based transport
modelling, Boffi & Vanden-Eijnden, Mach. Learn.: Sci. Technol. 4, 035012, 2023, arXiv:2206.04642) against an
exact curve."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._common import axes, host, host_xp, labelled

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_entropy"]


def plot_entropy(results: Any, *, exact: Callable[[Any], Any] | Any = None, ax: Any = None) -> Axes:
    r"""Entropy :math:`S_t` against time for a :class:`~transportkit.fokker_planck.SBTMResult` (``.times``,
    ``.entropy``) or ``{label: SBTMResult}``; a result without an absolute entropy draws ``entropy_change``
    (:math:`S_t - S_0`). ``exact``: a callable of the (host) times or an array on the same times, drawn dashed."""
    ax = axes(ax)
    xp = host_xp()
    relative = False
    t = None
    for lab, r in labelled(results, "results"):
        t = host(r.times, "times")
        if r.entropy is not None:
            S = host(r.entropy, "entropy")
        else:
            S, relative = host(r.entropy_change, "entropy_change"), True
        ax.plot(t, S, lw=1.6, label=lab or "probability flow")
    if exact is not None and t is not None:
        tt = xp.linspace(float(t[0]), float(t[-1]), 200) if callable(exact) else t
        Se = host(exact(tt) if callable(exact) else exact, "exact")
        if Se.shape != tt.shape:
            raise ValueError(f"exact must give one value per time ({tt.shape[0]}), got shape {tuple(Se.shape)}")
        ax.plot(tt, Se, "k--", lw=1, label="exact")
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"$S_t - S_0$" if relative else r"entropy $S_t$")
    ax.legend(fontsize="small")
    return ax
